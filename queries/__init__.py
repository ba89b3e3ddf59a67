"""All of Sync Monitor's SQL. Each function takes an engine or a connection and plain
parameters and returns a DataFrame or a small value; aggregation happens in the database."""
