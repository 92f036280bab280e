// Launches a draft: checks its leads, then either moves it to launching (exactly one concurrent launch
// wins) with a background job that enrolls every launchable row once and makes it active, or schedules it.
using System.Security.Claims;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Dispatch;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using OneOf;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

public static class LaunchCampaign
{
    public sealed record Response(Campaign Campaign, LeadRules.Summary Summary, List<LeadRules.Warning> Warnings);

    public sealed record Command(Guid CampaignId, Guid UserId, ETags.IfMatch? IfMatch)
        : ICommand<OneOf<Response, NothingLaunchable, StartPassed, WrongStatus, ChangedDuringCheck, Stale, Missing>>;

    /// <summary>No row of the dataset passes the check: 422 with the summary and the first warnings.</summary>
    public sealed record NothingLaunchable(Preflight.Response Preflight)
    {
        public ProblemHttpResult ToProblem() => Problems.Unprocessable("No row of the dataset can be launched; see the summary.",
            new Dictionary<string, object?> { ["summary"] = Preflight.Summary, ["warnings"] = Preflight.Warnings });
    }

    /// <summary>A scheduled launch whose start_date is not in the future: 422.</summary>
    public sealed record StartPassed
    {
        public ProblemHttpResult ToProblem() => Problems.Unprocessable("The scheduled start_date has passed; move it into the future first.");
    }

    /// <summary>A PATCH moved the campaign between the check and the launch: 409, to read it again.</summary>
    public sealed record ChangedDuringCheck
    {
        public ProblemHttpResult ToProblem() => Problems.Conflict("The campaign changed while its launch was being checked; read it again and retry.");
    }

    public static async Task<Results<Accepted<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, ISender sender, HttpRequest request,
        HttpResponse response, CancellationToken ct) =>
        (await sender.Send(new Command(campaignId, user.UserId(), ETags.Precondition(request)), ct))
            .Match<Results<Accepted<Response>, ProblemHttpResult>>(
                launched =>
                {
                    response.Headers.ETag = ETags.For(launched.Campaign.Version);
                    return TypedResults.Accepted($"/api/v1/campaigns/{campaignId}", launched);
                },
                nothing => nothing.ToProblem(),
                passed => passed.ToProblem(),
                wrong => wrong.ToProblem(),
                changed => changed.ToProblem(),
                stale => stale.ToProblem(),
                notFound => notFound.ToProblem());

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers, ILogger<Handler> logger)
        : ICommandHandler<Command, OneOf<Response, NothingLaunchable, StartPassed, WrongStatus, ChangedDuringCheck, Stale, Missing>>
    {
        public async ValueTask<OneOf<Response, NothingLaunchable, StartPassed, WrongStatus, ChangedDuringCheck, Stale, Missing>> Handle(
            Command command, CancellationToken ct)
        {
            var campaignId = command.CampaignId;
            await using var connection = await db.OpenConnectionAsync(ct);
            if (await CampaignStore.FindAsync(connection, campaignId, command.UserId, ct) is not { } campaign)
                return CampaignNotFound.For(campaignId);
            if (command.IfMatch is { } precondition && !precondition.Allows(campaign.Version))
                return new Stale(campaign.Version);
            if (!CampaignStatusRules.Lifecycle[LifecycleAction.Launch].From.Contains(campaign.Status))
                return NotADraft(campaign.Status);
            var now = clock.GetUtcNow();
            if (campaign.LaunchType == LaunchType.Scheduled && campaign.StartDate <= now)
                return new StartPassed();

            var reusable = !LeadRules.DependsOnOtherCampaigns(campaign);
            var (preflight, blockedRows) = await Preflight.CheckAsync(connection, null, campaign, Preflight.DefaultWarningsLimit, reusable, ct);
            if (preflight.Summary.LaunchableRows == 0)
                return new NothingLaunchable(preflight);

            // Conditional on the status and version the check ran against: of concurrent launches one
            // moves the row, the others find it moved and answer 409.
            var scheduler = await schedulers.GetScheduler(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var scheduled = campaign.LaunchType == LaunchType.Scheduled;
            var change = scheduled
                ? CampaignStatusRules.Change(campaign.Status, CampaignStatus.Scheduled, CampaignEventType.Scheduled)
                : CampaignStatusRules.Change(campaign.Status, CampaignStatus.Launching, CampaignEventType.LaunchRequested);
            var launched = await CampaignStore.ReadSingleAsync(connection, new CommandDefinition(LaunchSql, new
            {
                campaignId,
                version = campaign.Version,
                from = change.From.ToWire(),
                to = change.To.ToWire(),
                jobId = scheduled ? ScheduledLaunchJob.JobFor(campaignId).ToString() : EnrollLeadsJob.KeyFor(campaignId).ToString(),
                now,
            }, transaction, cancellationToken: ct));
            if (launched is null)
            {
                var current = await connection.QuerySingleAsync<string>(new CommandDefinition(
                    "select status from campaigns where campaign_id = @campaignId", new { campaignId }, transaction, cancellationToken: ct));
                var status = (CampaignStatus)Json.FromWire(typeof(CampaignStatus), current);
                // Still as it was: a PATCH moved the version between the check and this update.
                return status == campaign.Status ? new ChangedDuringCheck() : NotADraft(status);
            }
            await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, change, CampaignEvents.ByUser, now, ct,
                details: new { preflight.Summary.LaunchableRows });
            if (blockedRows is not null)
                await connection.ExecuteAsync(new CommandDefinition(KeepCheckSql, new { campaignId, blockedRows, now }, transaction, cancellationToken: ct));
            // The trigger or job joins the transaction: neither the status nor it exists without the other.
            using (scheduler.EnlistTransaction(transaction))
            {
                if (scheduled)
                    await ScheduledLaunchJob.ScheduleAsync(scheduler, campaignId, campaign.StartDate!.Value, ct);
                else
                    await EnrollLeadsJob.ScheduleAsync(scheduler, campaignId, now, ct);
                await transaction.CommitAsync(ct);
            }
            logger.LogInformation("Campaign {CampaignId} {Status}: {Launchable} of {Total} rows launchable",
                campaignId, change.To, preflight.Summary.LaunchableRows, preflight.Summary.TotalRows);
            return new Response(launched, preflight.Summary, preflight.Warnings);
        }

        private static WrongStatus NotADraft(CampaignStatus status) => new(status, $"Only a draft can be launched; the campaign is {status.ToWire()}.");
    }

    /// <summary>
    /// What the enrollment job, and a scheduled launch's own job, do: every launchable row becomes a lead
    /// in one statement, and the campaign becomes active, in one transaction. Running it again changes nothing.
    /// </summary>
    public sealed class Enrollment(NpgsqlDataSource db, TimeProvider clock, ILogger<Enrollment> logger)
    {
        public async Task EnrollAsync(Guid campaignId, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            if (await CampaignStore.LockAsync(connection, transaction, campaignId, null, ct) is not { Status: CampaignStatus.Launching } campaign)
            {
                logger.LogInformation("Enrollment of campaign {CampaignId} skipped: it is no longer launching", campaignId);
                return;
            }

            var now = clock.GetUtcNow();
            await connection.ExecuteAsync(new CommandDefinition(LeadRules.SortMemorySql, transaction: transaction, cancellationToken: ct));
            // The launch's check, when it was kept, stands: the rules are not applied a second time.
            var blockedRows = await connection.QuerySingleOrDefaultAsync<int[]?>(new CommandDefinition(
                "delete from launch_checks where campaign_id = @campaignId returning blocked_rows", new { campaignId }, transaction, cancellationToken: ct));
            var (checkedRows, parameters, _) = blockedRows is not null && !LeadRules.DependsOnOtherCampaigns(campaign)
                ? LeadRules.KnownRows(campaign, blockedRows)
                : LeadRules.CheckedRows(campaign);
            // Step 1 is due at enrollment plus its delay, moved into the schedule in each lead's zone.
            var plan = CampaignPlans.For(campaign);
            var schedule = plan.Schedule;
            var earliest = now.AddMinutes(campaign.Steps[0].TotalDelayMinutes);
            var (zones, dues) = await LeadTiming.EnrollmentDuesAsync(connection, transaction, campaign, schedule, earliest, ct);
            parameters.Add("now", now);
            parameters.Add("channel", campaign.Steps[0].Channel!.Value.ToWire());
            parameters.Add("earliest_at", earliest);
            parameters.Add("campaign_due", LeadTiming.Due(schedule, earliest, schedule.CampaignZone));
            parameters.Add("zone_ids", zones);
            parameters.Add("zone_dues", dues);
            var launchedChange = CampaignStatusRules.Change(campaign.Status, CampaignStatus.Active, CampaignEventType.Launched);
            // Leads already there (none, unless a run was forced back to launching) plus those inserted: counting the
            // campaign's leads after the insert was a scan of every new lead.
            var before = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                "select count(*) from leads where campaign_id = @campaignId", new { campaignId }, transaction, cancellationToken: ct));
            var enrolled = await connection.ExecuteAsync(new CommandDefinition(checkedRows + EnrollSql, parameters, transaction,
                commandTimeout: 0, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(ActivateSql,
                new { campaignId, to = launchedChange.To.ToWire(), now, total = before + enrolled }, transaction, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(PacingSql, new
            {
                campaignId,
                senders = Senders(campaign).Select(sender => sender.Id).ToArray(),
                channels = Senders(campaign).Select(sender => sender.Channel.ToWire()).ToArray(),
                today = plan.Today(NodaTime.Instant.FromDateTimeOffset(now)).ToDateOnly(),
            }, transaction, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(DueWork.NotifySql, transaction: transaction, cancellationToken: ct));
            await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, launchedChange, CampaignEvents.BySystem, now, ct,
                details: new { enrolled });
            await transaction.CommitAsync(ct);
            logger.LogInformation("Campaign {CampaignId} active with {Enrolled} leads enrolled", campaignId, enrolled);
        }

        /// <summary>The senders whose pacing the dispatcher keeps: each email alias, the LinkedIn account, each call connection.</summary>
        private static IEnumerable<(string Id, StepChannel Channel)> Senders(Campaign campaign)
        {
            if (campaign.Steps.Any(step => step.Channel == StepChannel.Email))
                foreach (var alias in campaign.AliasIds ?? [])
                    yield return (alias, StepChannel.Email);
            if (campaign.Steps.Any(step => step.Channel == StepChannel.Linkedin) && campaign.ConnectedAccountId is { } account)
                yield return (account.ToString(), StepChannel.Linkedin);
            foreach (var connection in campaign.VoiceConfig?.ConnectionConfigs ?? [])
                yield return (connection.ConnectionId!, StepChannel.Call);
        }

        /// <summary>After the last retry: the campaign is failed, with the reason, if it is still launching by <paramref name="job"/>.</summary>
        public async Task FailAsync(Guid campaignId, JobKey job, string error, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var now = clock.GetUtcNow();
            var change = CampaignStatusRules.Change(CampaignStatus.Launching, CampaignStatus.Failed, CampaignEventType.LaunchFailed);
            var failed = await connection.ExecuteAsync(new CommandDefinition(FailSql,
                new { campaignId, jobId = job.ToString(), error, from = change.From.ToWire(), to = change.To.ToWire(), now }, transaction, cancellationToken: ct));
            if (failed == 1)
                await CampaignEvents.RecordStatusChangeAsync(connection, transaction, campaignId, change, CampaignEvents.BySystem, now, ct, reason: error);
            await transaction.CommitAsync(ct);
        }
    }

    private static readonly string LaunchSql = $"""
        update campaigns c
        set status = @to, launch_requested_at = @now, launch_job_id = @jobId, updated_at = @now
        where c.campaign_id = @campaignId and c.status = @from and c.version = @version
        returning {CampaignStore.Columns}
        """;

    // A row's timezone counts only when it names a zone the schedule knows (zone_ids); else the lead is read in the campaign's.
    private const string EnrollSql = """
        insert into leads (campaign_id, row_number, email, linkedin_url, linkedin_profile, phone, timezone, channel, earliest_at,
                           next_action_at, enrolled_at, updated_at)
        select @campaign_id, r.row_number, r.email, r.linkedin_url, r.linkedin_profile, r.phone, z.zone, @channel, @earliest_at,
               case when z.zone is null then @campaign_due::timestamptz else z.due end, @now, @now
        from checked_rows r
        left join unnest(@zone_ids::text[], @zone_dues::timestamptz[]) as z (zone, due) on z.zone = r.timezone
        where not r.blocking
        on conflict (campaign_id, row_number) do nothing
        """;

    private const string KeepCheckSql = """
        insert into launch_checks (campaign_id, blocked_rows, checked_at) values (@campaignId, @blockedRows, @now)
        on conflict (campaign_id) do update set blocked_rows = excluded.blocked_rows, checked_at = excluded.checked_at
        """;

    private const string PacingSql = """
        insert into campaign_senders (campaign_id, sender_id, channel)
        select @campaignId, sender, channel from unnest(@senders::text[], @channels::text[]) as s (sender, channel)
        on conflict do nothing;
        insert into campaign_pacing (campaign_id, day) values (@campaignId, @today) on conflict do nothing;
        """;

    private const string ActivateSql = """
        update campaigns c
        set status = @to, total_leads = @total,
            launched_at = @now, updated_at = @now
        where c.campaign_id = @campaignId
        """;

    private const string FailSql = """
        update campaigns c
        set status = @to, launch_error = @error, updated_at = @now
        where c.campaign_id = @campaignId and c.status = @from and c.launch_job_id = @jobId
        """;
}
