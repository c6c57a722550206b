"""Which GPU host's samples belong to which billed resource (finops.selectors.gpu_resources), over
resource ids shaped as the providers' exports write them. No database."""

import pytest

from finops.selectors.gpu_resources import host_matches_resource, resource_host_names

AWS_INSTANCE = "i-0abc1234def567890"
AWS_ARN = f"arn:aws:ec2:us-east-1:123456789012:instance/{AWS_INSTANCE}"
AZURE_VM = ("/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/LLM-RG/providers/"
            "Microsoft.Compute/virtualMachines/GPU-VM-9")
GCP_INSTANCE = "//compute.googleapis.com/projects/llm-prod/zones/us-central1-a/instances/a100-node-3"
GCP_BILLING_EXPORT = "projects/llm-prod/zones/us-central1-a/instances/a100-node-3"
OCI_INSTANCE = "ocid1.instance.oc1.iad.anuwcljt3lvbdyqcxtqhfnmovqcl6pkk7bqmkepqjcf7yh6ehzbn3gphvgwq"


@pytest.mark.parametrize(
    ("host", "resource_id", "resource_name"),
    [
        (AWS_INSTANCE, AWS_INSTANCE, ""),  # CUR line_item_resource_id is the bare id
        (AWS_INSTANCE, AWS_ARN, ""),  # FOCUS ResourceId from AWS is the ARN
        ("I-0ABC1234DEF567890", AWS_ARN, ""),
        ("i-12345678", "arn:aws:ec2:eu-west-1:123456789012:instance/i-12345678", ""),  # the older 8-digit ids
        ("gpu-vm-9", AZURE_VM, "GPU-VM-9"),  # Azure ids keep the portal's case; hostnames are lower
        ("gpu-vm-9", AZURE_VM, ""),
        ("a100-node-3", GCP_INSTANCE, ""),
        ("a100-node-3", GCP_BILLING_EXPORT, "a100-node-3"),
        (OCI_INSTANCE, OCI_INSTANCE, "llm-a10-1"),  # a host reporting its OCID
        ("llm-a10-1", OCI_INSTANCE, "llm-a10-1"),  # or its display name
        ("dgx-rack2-07", "dgx-rack2-07", "DGX A100 rack 2 #7"),  # bare metal entered as its own provider
        ("llm-gpu-1", AWS_INSTANCE, "LLM-GPU-1"),  # an AWS instance whose Name tag is the host name
    ],
)
def test_a_host_matches_the_resource_it_runs_on(host, resource_id, resource_name):
    assert host_matches_resource(host, resource_id=resource_id, resource_name=resource_name)


@pytest.mark.parametrize(
    ("host", "resource_id", "resource_name"),
    [
        ("i-0abc1234def56789", AWS_ARN, ""),  # a prefix of the id is another instance
        (AWS_INSTANCE, f"{AWS_ARN}0", ""),  # the id is longer than an instance id
        (AWS_INSTANCE, f"arn:aws:ec2:us-east-1:123456789012:network-interface/en{AWS_INSTANCE}", ""),  # eni-...
        ("i-0abc1234def567891", AWS_ARN, ""),
        ("gpu-vm-1", AZURE_VM, ""),  # the last path segment is GPU-VM-9, not a prefix of it
        ("vm-9", AZURE_VM, ""),
        ("virtualmachines", AZURE_VM, ""),  # a segment that is not the last
        ("llm-prod", GCP_INSTANCE, ""),
        ("anuwcljt3lvbdyqcxtqhfnmovqcl6pkk7bqmkepqjcf7yh6ehzbn3gphvgwq", OCI_INSTANCE, "llm-a10-1"),
        ("", "", ""),  # nothing names nothing
        ("", AZURE_VM, ""),
    ],
)
def test_a_host_does_not_match_another_resource(host, resource_id, resource_name):
    assert not host_matches_resource(host, resource_id=resource_id, resource_name=resource_name)


def test_the_names_of_a_resource_are_its_id_name_last_segment_and_instance_ids():
    assert resource_host_names(AWS_ARN, "LLM-GPU-1") == {AWS_ARN, AWS_INSTANCE, "llm-gpu-1"}
    assert resource_host_names(AZURE_VM, "") == {AZURE_VM.lower(), "gpu-vm-9"}
    assert resource_host_names("", "") == frozenset()
