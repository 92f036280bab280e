-- The owner's lead list filtered by status pages by row number within one status; without this it would walk
-- the campaign's leads in row order past every lead of the other statuses (the primary key serves the unfiltered list).
create index leads_by_status on leads (campaign_id, status, row_number);
