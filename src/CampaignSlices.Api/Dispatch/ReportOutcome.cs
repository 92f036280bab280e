// Closes one leased action with its outcome (what the worker did), fenced by the lease token; repeating the same report answers the same.
using CampaignSlices.Api.Infrastructure;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public static class ReportOutcome
{
    public const int MaxDetailLength = 2000, MaxProviderReferenceLength = 255, MaxDurationSeconds = 86_400;

    [RequiredProperties("lease_token", "outcome")]
    public sealed record Request
    {
        public Guid? LeaseToken { get; init; }
        public ActionOutcome? Outcome { get; init; }
        public string? Detail { get; init; }
        public int? DurationSeconds { get; init; }
        public string? ProviderReference { get; init; }
        public DateTimeOffset? OccurredAt { get; init; }

        public OutcomeRecorder.Report ToReport(Guid actionId) =>
            new(actionId, LeaseToken!.Value, Outcome!.Value, Detail, DurationSeconds, ProviderReference, OccurredAt);
    }

    public sealed record Response(Guid ActionId, ActionOutcome Outcome, Campaigns.LeadStatus LeadStatus, DateTimeOffset? NextActionAt) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "action_id", "outcome", "lead_status" };

        public static Response From(OutcomeRecorder.Recorded recorded) => new(recorded.ActionId, recorded.Outcome, recorded.LeadStatus, recorded.NextActionAt);
    }

    public sealed record Command(Guid ActionId, Request Report)
        : ICommand<OneOf<Response, Invalid, Missing, LeaseLost>>, IValidatedRequest<OneOf<Response, Invalid, Missing, LeaseLost>>
    {
        public OneOf<Response, Invalid, Missing, LeaseLost> Reject(Invalid invalid) => invalid with { Detail = "The outcome report is invalid." };
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint([FromRoute(Name = "action_id")] Guid actionId, HttpRequest request,
        ISender sender, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        return (await sender.Send(new Command(actionId, parsed.Value), ct)).Match<Results<Ok<Response>, ProblemHttpResult>>(
            recorded => TypedResults.Ok(recorded), invalid => invalid.ToProblem(), missing => missing.ToProblem(), lost => lost.ToProblem());
    }

    /// <summary>The rules of one report, shared with the batch endpoint (which applies them item by item).</summary>
    public sealed class ReportRules : AbstractValidator<Request>
    {
        public ReportRules()
        {
            RuleFor(report => report.LeaseToken).NotNull().WithMessage("lease_token is required: the token the lease answered.");
            RuleFor(report => report.Outcome).NotNull().WithMessage("outcome is required.");
            RuleFor(report => report.Detail).MaximumLength(MaxDetailLength).WithMessage($"detail is at most {MaxDetailLength} characters.");
            RuleFor(report => report.ProviderReference).MaximumLength(MaxProviderReferenceLength)
                .WithMessage($"provider_reference is at most {MaxProviderReferenceLength} characters.");
            RuleFor(report => report.DurationSeconds).InclusiveBetween(0, MaxDurationSeconds)
                .WithMessage($"duration_seconds must be between 0 and {MaxDurationSeconds}.");
        }
    }

    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator(ReportRules rules) =>
            RuleFor(command => command).CustomAsync(async (command, context, ct) =>
            {
                foreach (var failure in (await rules.ValidateAsync(command.Report, ct)).Errors)
                    context.AddFailure(failure);
            });
    }

    public sealed class Handler(OutcomeRecorder recorder) : ICommandHandler<Command, OneOf<Response, Invalid, Missing, LeaseLost>>
    {
        public async ValueTask<OneOf<Response, Invalid, Missing, LeaseLost>> Handle(Command command, CancellationToken ct) =>
            (await recorder.RecordAsync([command.Report.ToReport(command.ActionId)], ct))[0]
                .Match<OneOf<Response, Invalid, Missing, LeaseLost>>(recorded => Response.From(recorded), missing => missing, lost => lost, invalid => invalid);
    }
}
