-- What happens to a lead after its actions (a reply, a bounce, an unsubscribe, an open, a click, an
-- accepted connection), one row each. The key is also what makes an event reported twice one event.
create table lead_events (
    campaign_id          uuid        not null,
    row_number           integer     not null,
    type                 text        not null
        check (type in ('replied', 'bounced', 'unsubscribed', 'opened', 'clicked', 'accepted')),
    occurred_at          timestamptz not null,
    -- the action the event follows (the one named, else the lead's last closed one), its step and variant; null before any
    action_id            uuid,
    step                 integer,
    variant              text,
    detail               text,
    -- what the event answered, so that the same event sent again answers the same
    answered_lead_status text        not null,
    recorded_at          timestamptz not null,
    primary key (campaign_id, row_number, type, occurred_at)
);

-- Emails that unsubscribed from one of a user's campaigns (lower-cased, trimmed): user-wide, what the
-- `unsubscribed` check of preflight and launch looks up.
create table unsubscribes (
    user_id         uuid        not null,
    email           text        not null,
    campaign_id     uuid        not null,
    row_number      integer     not null,
    unsubscribed_at timestamptz not null,
    primary key (user_id, email)
);

-- An unsubscribe finds the leads holding its email in each of the user's campaigns.
create index leads_by_email on leads (campaign_id, lower(email));

-- The bounce guard's counters: email actions closed as sent or bounced, and how many of them bounced
-- (by outcome, or by a later event). Apart from campaigns so that counting never re-versions the campaign.
create table campaign_email_counts (
    campaign_id uuid    primary key,
    closes      integer not null default 0 check (closes >= 0),
    bounces     integer not null default 0 check (bounces >= 0)
);

-- The bounced share (percent) at or above which an active campaign pauses; null turns the guard off.
alter table campaigns
    add column bounce_pause_percent double precision default 5
        check (bounce_pause_percent between 0.5 and 100);
