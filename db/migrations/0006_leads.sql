-- A lead is one launchable dataset row enrolled in a campaign. Shaped for the dispatcher to come:
-- where the lead is in the sequence, when it next acts, and from which sender.
create table leads (
    campaign_id    uuid        not null references campaigns (campaign_id) on delete cascade,
    row_number     integer     not null,
    email          text,
    linkedin_url   text,
    -- the profile's slug, lower-cased: how in_other_campaign recognises one person across URL spellings
    linkedin_profile text,
    phone          text,
    -- pending (not started), active (in the sequence), then completed, stopped (reply, cancel) or failed
    status         text        not null default 'pending'
        check (status in ('pending', 'active', 'completed', 'stopped', 'failed')),
    current_step   integer     not null default 1 check (current_step >= 1),
    next_action_at timestamptz,
    sender_id      text,
    enrolled_at    timestamptz not null,
    updated_at     timestamptz not null,
    primary key (campaign_id, row_number)
);

-- The dispatcher's queue: due actions of leads still in play.
create index leads_due on leads (next_action_at) where status in ('pending', 'active');
-- in_other_campaign: is this LinkedIn profile already enrolled elsewhere?
create index leads_by_linkedin_profile on leads (linkedin_profile) where linkedin_profile is not null;
