-- Calls. A call lead keeps a connection (sender_id) and one of its phone numbers (sender_phone) for its whole
-- sequence; the actions keep the number they dialled from. attempts_per_second is kept as a sliding window over
-- the campaign's recent call leases: each claim that leased calls adds (when, how many), and entries older than
-- the window are dropped. Calls the rate holds back are given slots at the rate, after call_slot_at.
alter table leads add column sender_phone text;
alter table actions add column sender_phone text;
alter table campaign_pacing
    add column call_leased_at timestamptz[] not null default '{}',
    add column call_leased    integer[]     not null default '{}',
    add column call_slot_at   timestamptz;
