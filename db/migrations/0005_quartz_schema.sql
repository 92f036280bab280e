-- Quartz keeps its tables in a schema of its own; the scheduler creates them (ProvisionSchema) in it.
create schema if not exists quartz;
