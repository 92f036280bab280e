-- Datasets hold the leads a campaign launches to; rows keep their 1-based position in the upload.
create table datasets (
    dataset_id uuid primary key,
    user_id    uuid        not null,
    name       text        not null check (char_length(name) between 1 and 255),
    row_count  integer     not null default 0 check (row_count >= 0),
    columns    text[]      not null,
    created_at timestamptz not null default now()
);

create index datasets_by_user on datasets (user_id, created_at desc, dataset_id desc);

create table dataset_rows (
    dataset_id   uuid    not null references datasets (dataset_id) on delete cascade,
    row_number   integer not null check (row_number >= 1),
    email        text,
    first_name   text,
    last_name    text,
    company      text,
    linkedin_url text,
    phone        text,
    -- every column beyond the known six, by its header name, for {{placeholders}}
    attributes   jsonb,
    primary key (dataset_id, row_number)
);
