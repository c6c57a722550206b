"""Forms behind the pages where people edit configuration and team data. Each turns every
database constraint of its model into an error on a field, so a bad entry re-renders the
page instead of failing on save."""
