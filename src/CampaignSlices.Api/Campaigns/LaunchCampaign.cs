// Launches a draft: checks its leads, then either moves it to launching (exactly one concurrent launch
// wins) with a background job that enrolls every launchable row once and makes it active, or schedules it.
using System.Security.Claims;
using CampaignSlices.Api.Campaigns.Jobs;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Quartz;

namespace CampaignSlices.Api.Campaigns;

public static class LaunchCampaign
{
    public sealed record Response(CampaignResponse Campaign, LeadRules.Summary Summary, List<LeadRules.Warning> Warnings);

    public static async Task<Results<Accepted<Response>, ProblemHttpResult>> Endpoint(
        [FromRoute(Name = "campaign_id")] Guid campaignId, ClaimsPrincipal user, Handler handler, HttpRequest request,
        HttpResponse response, CancellationToken ct)
    {
        var outcome = await handler.HandleAsync(campaignId, user.UserId(), ETags.Precondition(request), ct);
        switch (outcome)
        {
            case Outcome.Launched launched:
                response.Headers.ETag = ETags.For(launched.Version);
                return TypedResults.Accepted($"/api/v1/campaigns/{campaignId}", launched.Response);
            case Outcome.NothingLaunchable nothing:
                return Problems.Unprocessable("No row of the dataset can be launched; see the summary.",
                    new Dictionary<string, object?> { ["summary"] = nothing.Preflight.Summary, ["warnings"] = nothing.Preflight.Warnings });
            case Outcome.StartPassed:
                return Problems.Unprocessable("The scheduled start_date has passed; move it into the future first.");
            case Outcome.WrongStatus wrong:
                return Problems.Conflict($"Only a draft can be launched; the campaign is {wrong.Status.ToWire()}.",
                    new Dictionary<string, string[]> { ["status"] = [$"The campaign is {wrong.Status.ToWire()}."] });
            case Outcome.ChangedDuringCheck:
                return Problems.Conflict("The campaign changed while its launch was being checked; read it again and retry.");
            case Outcome.Stale stale:
                return Problems.PreconditionFailed($"If-Match does not match; the campaign is at {ETags.For(stale.Version)}.");
            default:
                return Problems.NotFound($"Campaign {campaignId} was not found.");
        }
    }

    public abstract record Outcome
    {
        public sealed record Launched(Response Response, int Version) : Outcome;
        public sealed record NothingLaunchable(Preflight.Response Preflight) : Outcome;
        public sealed record StartPassed : Outcome;
        public sealed record WrongStatus(CampaignStatus Status) : Outcome;
        public sealed record ChangedDuringCheck : Outcome;
        public sealed record Stale(int Version) : Outcome;
        public sealed record NotFound : Outcome;
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock, ISchedulerFactory schedulers, ILogger<Handler> logger)
    {
        public async Task<Outcome> HandleAsync(Guid campaignId, Guid userId, ETags.IfMatch? ifMatch, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            var row = await CampaignRows.FindAsync(connection, campaignId, userId, ct);
            if (row is null)
                return new Outcome.NotFound();
            if (ifMatch is { } precondition && !precondition.Allows(row.Version))
                return new Outcome.Stale(row.Version);
            var campaign = row.Campaign;
            if (!CampaignStatusRules.Lifecycle[CampaignStatusRules.LifecycleAction.Launch].From.Contains(campaign.Status))
                return new Outcome.WrongStatus(campaign.Status);
            var now = clock.GetUtcNow();
            if (campaign.LaunchType == LaunchType.Scheduled && campaign.StartDate <= now)
                return new Outcome.StartPassed();

            var preflight = await Preflight.RunAsync(connection, null, campaign, Preflight.DefaultWarningsLimit, ct);
            if (preflight.Summary.LaunchableRows == 0)
                return new Outcome.NothingLaunchable(preflight);

            // Conditional on the status and version the check ran against: of concurrent launches one
            // moves the row, the others find it moved and answer 409.
            var scheduler = await schedulers.GetScheduler(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var scheduled = campaign.LaunchType == LaunchType.Scheduled;
            var target = scheduled ? CampaignStatus.Scheduled : CampaignStatus.Launching;
            var launched = await connection.QuerySingleOrDefaultAsync<CampaignRows.Row>(new CommandDefinition(LaunchSql, new
            {
                campaignId,
                version = row.Version,
                status = target.ToWire(),
                jobId = scheduled ? ScheduledLaunchJob.JobFor(campaignId).ToString() : EnrollLeadsJob.KeyFor(campaignId).ToString(),
                now,
            }, transaction, cancellationToken: ct));
            if (launched is null)
            {
                var current = await connection.QuerySingleAsync<string>(new CommandDefinition(
                    "select status from campaigns where campaign_id = @campaignId", new { campaignId }, transaction, cancellationToken: ct));
                var status = Enum.Parse<CampaignStatus>(current, ignoreCase: true);
                // Still a draft: a PATCH moved the version between the check and this update.
                return status == CampaignStatus.Draft ? new Outcome.ChangedDuringCheck() : new Outcome.WrongStatus(status);
            }
            await CampaignEvents.RecordAsync(connection, transaction, campaignId, scheduled ? "scheduled" : "launch_requested", campaign.Status, target,
                CampaignEvents.ByUser, now, ct, details: new { preflight.Summary.LaunchableRows });
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
                campaignId, target, preflight.Summary.LaunchableRows, preflight.Summary.TotalRows);
            return new Outcome.Launched(new Response(launched.Campaign, preflight.Summary, preflight.Warnings), launched.Version);
        }
    }

    /// <summary>
    /// What the enrollment job does: every launchable row becomes a lead in one statement, and the
    /// campaign becomes active, in one transaction. Running it again changes nothing.
    /// </summary>
    public sealed class Enrollment(NpgsqlDataSource db, TimeProvider clock, ILogger<Enrollment> logger)
    {
        public async Task EnrollAsync(Guid campaignId, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var row = await connection.QuerySingleOrDefaultAsync<CampaignRows.Row>(new CommandDefinition(
                $"select {CampaignRows.Columns} from campaigns c where c.campaign_id = @campaignId for update",
                new { campaignId }, transaction, cancellationToken: ct));
            if (row?.Campaign is not { Status: CampaignStatus.Launching } campaign)
            {
                logger.LogInformation("Enrollment of campaign {CampaignId} skipped: it is no longer launching", campaignId);
                return;
            }

            var now = clock.GetUtcNow();
            await connection.ExecuteAsync(new CommandDefinition(LeadRules.SortMemorySql, transaction: transaction, cancellationToken: ct));
            var (checkedRows, parameters, _) = LeadRules.CheckedRows(campaign);
            parameters.Add("now", now);
            parameters.Add("first_action_at", now.AddMinutes(campaign.StepsConfig[0].TotalDelayMinutes));
            var enrolled = await connection.ExecuteAsync(new CommandDefinition(checkedRows + EnrollSql, parameters, transaction,
                commandTimeout: 0, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition(ActivateSql, new { campaignId, now }, transaction, cancellationToken: ct));
            await CampaignEvents.RecordAsync(connection, transaction, campaignId, "launched", CampaignStatus.Launching, CampaignStatus.Active,
                CampaignEvents.BySystem, now, ct, details: new { enrolled });
            await transaction.CommitAsync(ct);
            logger.LogInformation("Campaign {CampaignId} active with {Enrolled} leads enrolled", campaignId, enrolled);
        }

        /// <summary>After the last retry: the campaign is failed, with the reason, if it is still launching.</summary>
        public async Task FailAsync(Guid campaignId, string error, CancellationToken ct)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var now = clock.GetUtcNow();
            var failed = await connection.ExecuteAsync(new CommandDefinition(FailSql, new { campaignId, error, now }, transaction, cancellationToken: ct));
            if (failed == 1)
                await CampaignEvents.RecordAsync(connection, transaction, campaignId, "launch_failed", CampaignStatus.Launching, CampaignStatus.Failed,
                    CampaignEvents.BySystem, now, ct, reason: error);
            await transaction.CommitAsync(ct);
        }
    }

    private const string LaunchSql = $"""
        update campaigns c
        set status = @status, launch_requested_at = @now, launch_job_id = @jobId, version = c.version + 1, updated_at = @now
        where c.campaign_id = @campaignId and c.status = 'draft' and c.version = @version
        returning {CampaignRows.Columns}
        """;

    private const string EnrollSql = """
        insert into leads (campaign_id, row_number, email, linkedin_url, linkedin_profile, phone, next_action_at, enrolled_at, updated_at)
        select @campaign_id, row_number, email, linkedin_url, linkedin_profile, phone, @first_action_at, @now, @now
        from checked_rows
        where not blocking
        on conflict (campaign_id, row_number) do nothing
        """;

    private const string ActivateSql = """
        update campaigns c
        set status = 'active', total_leads = (select count(*) from leads l where l.campaign_id = c.campaign_id),
            launched_at = @now, version = c.version + 1, updated_at = @now
        where c.campaign_id = @campaignId
        """;

    private const string FailSql = """
        update campaigns c
        set status = 'failed', launch_error = @error, version = c.version + 1, updated_at = @now
        where c.campaign_id = @campaignId and c.status = 'launching'
        """;
}
