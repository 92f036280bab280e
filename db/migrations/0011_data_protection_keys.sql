-- The Data Protection key ring, shared by every replica. Each key's XML is itself encrypted with the
-- configured key-encryption key, so this table alone does not reveal the keys.
create table data_protection_keys (
    name       text        primary key,
    xml        text        not null,
    created_at timestamptz not null default now()
);
