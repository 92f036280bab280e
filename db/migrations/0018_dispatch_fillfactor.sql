-- Room on each page for the rows the dispatcher updates in place. An action is updated at its outcome (and on a
-- heartbeat or a re-lease), a sender's and a campaign's pacing row on every claim; none of those updates changes an
-- indexed column, so with free space on the page PostgreSQL keeps the new version there (a HOT update) and writes no
-- index entries: without it the outcome's update of 100 actions wrote about four WAL records per action.
alter table actions set (fillfactor = 60);
alter table campaign_senders set (fillfactor = 50);
alter table campaign_pacing set (fillfactor = 50);
