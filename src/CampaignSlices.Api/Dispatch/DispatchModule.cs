using Carter;
using CampaignSlices.Api.Infrastructure;

namespace CampaignSlices.Api.Dispatch;

/// <summary>
/// The route table of the worker-facing API: channel workers lease due actions, keep them, give them back, report outcomes,
/// and report what happened to leads afterwards.
/// </summary>
public sealed class DispatchModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var dispatch = app.MapGroup("/api/v1/dispatch").WithTags("Dispatch").RequireAuthorization(Auth.DispatchPolicy).WithIdempotencyKeys();
        dispatch.MapPost("/leases", LeaseActions.Endpoint).WithName("LeaseActions")
            .WithSummary("Lease due actions of one channel")
            .WithDescription("Leases up to max (1-500, default 50) due actions of the channel for lease_seconds (10-3600, default 300), within each campaign's "
                + "schedule (in the lead's timezone) and limits. With wait_seconds (0-20) and nothing due, waits that long and answers as soon as work is due. "
                + "Needs a token with the dispatch scope.")
            .Accepts<LeaseActions.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden);
        dispatch.MapPost("/actions/{action_id}/heartbeat", HeartbeatAction.Endpoint).WithName("HeartbeatAction")
            .WithSummary("Extend a lease still held")
            .WithDescription("Extends the lease to lease_seconds (10-3600, default 300) from now. A token whose lease ended, or that no longer holds the action, answers 409.")
            .Accepts<HeartbeatAction.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        dispatch.MapPost("/actions/{action_id}/release", ReleaseAction.Endpoint).WithName("ReleaseAction")
            .WithSummary("Give a leased action back undone")
            .WithDescription("The action is due again after delay_seconds (0-86400, default 0), moved into the schedule, as the same attempt; no attempt is used "
                + "and it does not count against the limits again.")
            .Accepts<ReleaseAction.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        dispatch.MapPost("/actions/{action_id}/outcome", ReportOutcome.Endpoint).WithName("ReportOutcome")
            .WithSummary("Close a leased action with its outcome")
            .WithDescription("Closes the action and applies the outcome: the lead's next step is scheduled, or the lead completes or fails. The same report "
                + "repeated with the token that closed the action answers the same 200; a token that no longer holds the action answers 409.")
            .Accepts<ReportOutcome.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        dispatch.MapPost("/outcomes", ReportOutcomes.Endpoint).WithName("ReportOutcomes")
            .WithSummary("Close many leased actions at once")
            .WithDescription("1 to 500 outcome reports in one request, written in one transaction. Each item is answered on its own with the status the single "
                + "outcome endpoint would give it (200, 400, 404, 409).")
            .Accepts<ReportOutcomes.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden);
        dispatch.MapPost("/lead-events", RecordLeadEvent.Endpoint).WithName("RecordLeadEvent")
            .WithSummary("Report what happened to a lead after its actions")
            .WithDescription("A reply, bounce, unsubscribe, open, click or accepted connection, for the lead named by campaign_id and row_number or by "
                + "the action_id the event follows (exactly one of the two). replied stops the lead when the campaign's stop_on_reply is on, and "
                + "always after a LinkedIn message or InMail step; bounced fails it; unsubscribed stops every lead in play with that email in all of "
                + "the user's campaigns and blocks the email at later launches; opened, clicked and accepted are counted. The same lead, type and "
                + "occurred_at again changes nothing and answers the same.")
            .Accepts<RecordLeadEvent.Request>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }
}
