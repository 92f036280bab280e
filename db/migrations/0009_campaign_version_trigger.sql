-- Every write of a campaign row moves its version, whichever statement makes it: the version is the
-- strong ETag, and GET answers a stored representation while the version it was made at still holds.
create function campaigns_next_version() returns trigger language plpgsql as $$
begin
    new.version := old.version + 1;
    return new;
end;
$$;

create trigger campaigns_next_version
    before update on campaigns
    for each row execute function campaigns_next_version();
