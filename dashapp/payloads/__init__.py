"""One module per page or API area: builds the JSON and the page records from queries/."""
