// Leases due actions of one channel to a worker: the due leads whose campaign is running, each within its
// schedule in the lead's zone and its campaign's limits, as one transaction that never waits on another.
using System.Security.Claims;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CampaignSlices.Api.Campaigns;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using NodaTime;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public static class LeaseActions
{
    public const int DefaultMax = 50, MaxMax = 500, DefaultLeaseSeconds = 300, MinLeaseSeconds = 10, MaxLeaseSeconds = 3600, MaxWaitSeconds = 20;

    [RequiredProperties("channel")]
    public sealed record Request
    {
        public StepChannel? Channel { get; init; }
        public int? Max { get; init; }
        public int? LeaseSeconds { get; init; }
        public int? WaitSeconds { get; init; }
    }

    public sealed record Response(List<Lease> Items) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "items" };
    }

    /// <summary>One leased action: what to do, for whom, from which sender, and the token that fences every report on it.</summary>
    public sealed record Lease(Guid ActionId, Guid LeaseToken, DateTimeOffset LeaseExpiresAt, Guid CampaignId, Guid UserId, int RowNumber,
        int Step, int Attempt, StepChannel Channel, LinkedinAction? ActionType, string? MessageTemplate, LeasedVariant? Variant,
        LeasedSender Sender, LeadRow Lead, LeaseSettings Settings) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string>
        {
            "action_id", "lease_token", "lease_expires_at", "campaign_id", "user_id", "row_number", "step", "attempt", "channel", "sender", "lead", "settings",
        };
    }

    public sealed record LeasedVariant(string Label, VariantType Type, Guid? TemplateId, Guid? SenderProfileId) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "label", "type" };
    }

    /// <summary>The lead's sender for this action: an email alias, the LinkedIn account, or a call connection and its phone number (only those that apply are present).</summary>
    public sealed record LeasedSender
    {
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? AliasId { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? ConnectedAccountId { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? ConnectionId { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? PhoneNumber { get; init; }
    }

    /// <summary>The dataset row: its known columns and every other column by its header.</summary>
    public sealed record LeadRow(string? Email, string? FirstName, string? LastName, string? Company, string? LinkedinUrl, string? Phone,
        string? Timezone, JsonObject Attributes) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "attributes" };
    }

    /// <summary>What the worker needs of the campaign and the step to perform the action.</summary>
    public sealed record LeaseSettings(bool AiPersonalizationEnabled, bool TrackClicks, bool OpenTracking, string? Signature, string? SystemPrompt,
        string? AppId, int? AppVersion, string? AppType, WebhookConfig? WebhookConfig) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "ai_personalization_enabled", "track_clicks", "open_tracking" };
    }

    public sealed record Command(StepChannel? Channel, int? Max, int? LeaseSeconds, int? WaitSeconds, string Worker)
        : ICommand<OneOf<Response, Invalid>>, IValidatedRequest<OneOf<Response, Invalid>>
    {
        public OneOf<Response, Invalid> Reject(Invalid invalid) => invalid with { Detail = "The lease request is invalid." };
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(HttpRequest request, ClaimsPrincipal worker, ISender sender,
        CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        var lease = parsed.Value;
        return (await sender.Send(new Command(lease.Channel, lease.Max, lease.LeaseSeconds, lease.WaitSeconds, worker.WorkerName()), ct))
            .Match<Results<Ok<Response>, ProblemHttpResult>>(leased => TypedResults.Ok(leased), invalid => invalid.ToProblem());
    }

    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Channel).NotNull().WithMessage("channel is required: email, linkedin or call.");
            RuleFor(command => command.Max).InclusiveBetween(1, MaxMax).WithMessage($"max must be between 1 and {MaxMax}.");
            RuleFor(command => command.LeaseSeconds).InclusiveBetween(MinLeaseSeconds, MaxLeaseSeconds)
                .WithMessage($"lease_seconds must be between {MinLeaseSeconds} and {MaxLeaseSeconds}.");
            RuleFor(command => command.WaitSeconds).InclusiveBetween(0, MaxWaitSeconds).WithMessage($"wait_seconds must be between 0 and {MaxWaitSeconds}.");
        }
    }

    public sealed class Handler(ActionClaim claim, DueWork dueWork, TimeProvider clock) : ICommandHandler<Command, OneOf<Response, Invalid>>
    {
        /// <summary>How long a long poll waits at least between two tries when the next due work could not be leased (another replica holds it).</summary>
        private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

        public async ValueTask<OneOf<Response, Invalid>> Handle(Command command, CancellationToken ct)
        {
            var request = new ActionClaim.Request(command.Channel!.Value, command.Max ?? DefaultMax,
                TimeSpan.FromSeconds(command.LeaseSeconds ?? DefaultLeaseSeconds), command.Worker);
            var deadline = clock.GetUtcNow().AddSeconds(command.WaitSeconds ?? 0);
            while (true)
            {
                // Taken before the claim, so a notification sent while it runs is not missed.
                var woken = dueWork.Next;
                var (leases, nextDue) = await claim.ClaimAsync(request, ct);
                var now = clock.GetUtcNow();
                if (leases.Count > 0 || now >= deadline)
                    return new Response(leases);
                var wakeAt = nextDue is { } due && due < deadline ? (due > now + RetryPause ? due : now + RetryPause) : deadline;
                try
                {
                    await woken.WaitAsync(wakeAt - now, clock, ct);
                }
                catch (TimeoutException)
                {
                    // the due time or the deadline came: try again
                }
            }
        }
    }
}
