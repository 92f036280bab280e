-- Days on which a campaign sends nothing, read as local dates in each lead's timezone.
alter table campaigns
    add column blackout_dates date[] not null default '{}'
        check (cardinality(blackout_dates) <= 366);
