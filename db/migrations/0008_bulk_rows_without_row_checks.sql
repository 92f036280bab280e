-- The two bulk tables lose their per-row foreign keys. Each checked every inserted row against its
-- parent (an RI trigger per row), which was most of a million-row import or enrollment. What they
-- guarded holds by construction: dataset rows are written only by the import, in the transaction
-- that creates their dataset (datasets are never deleted); leads only by enrollment, which holds its
-- campaign's row lock, and only a draft (which never has leads) can be deleted.
alter table dataset_rows drop constraint dataset_rows_dataset_id_fkey;
alter table leads drop constraint leads_campaign_id_fkey;
