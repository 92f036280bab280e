-- Calls. A call lead keeps a connection (sender_id) and one of its phone numbers (sender_phone) for its whole
-- sequence; the actions keep the number they dialled from. attempts_per_second is kept as a sliding window over
-- the campaign's recent call leases: each claim that leased calls adds (when, how many), and entries older than
-- the window are dropped. Calls the rate holds back are due a window's worth at a time: call_slot_at is the latest
-- window given out, call_slot_calls how many calls it holds.
alter table leads add column sender_phone text;
alter table actions add column sender_phone text;
alter table campaign_pacing
    add column call_leased_at timestamptz[] not null default '{}',
    add column call_leased    integer[]     not null default '{}',
    add column call_slot_at    timestamptz,
    add column call_slot_calls integer not null default 0;
