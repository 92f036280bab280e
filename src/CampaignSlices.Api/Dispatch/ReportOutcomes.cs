// Closes many leased actions at once (1 to 500), each judged and answered on its own, all written in one transaction.
using CampaignSlices.Api.Infrastructure;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using OneOf;

namespace CampaignSlices.Api.Dispatch;

public static class ReportOutcomes
{
    public const int MaxItems = 500;

    [RequiredProperties("items")]
    public sealed record Request
    {
        public List<Item>? Items { get; init; }
    }

    [RequiredProperties("action_id", "lease_token", "outcome")]
    public sealed record Item
    {
        public Guid? ActionId { get; init; }
        public Guid? LeaseToken { get; init; }
        public ActionOutcome? Outcome { get; init; }
        public string? Detail { get; init; }
        public int? DurationSeconds { get; init; }
        public string? ProviderReference { get; init; }
        public DateTimeOffset? OccurredAt { get; init; }

        public ReportOutcome.Request AsReport() => new()
        {
            LeaseToken = LeaseToken, Outcome = Outcome, Detail = Detail, DurationSeconds = DurationSeconds, ProviderReference = ProviderReference,
            OccurredAt = OccurredAt,
        };
    }

    public sealed record Response(List<ItemResult> Items) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "items" };
    }

    /// <summary>
    /// One item's answer: `status` is what the single outcome endpoint would have answered (200, 400,
    /// 404 or 409); a 200 carries the outcome's effect, any other the problem's detail (and errors for 400).
    /// </summary>
    public sealed record ItemResult(Guid? ActionId, int Status, ActionOutcome? Outcome, Campaigns.LeadStatus? LeadStatus, DateTimeOffset? NextActionAt,
        string? Detail, Dictionary<string, string[]>? Errors) : IAlwaysPresent
    {
        public static IReadOnlySet<string> NeverNull { get; } = new HashSet<string> { "status" };
    }

    public sealed record Command(List<Item>? Items) : ICommand<OneOf<Response, Invalid>>, IValidatedRequest<OneOf<Response, Invalid>>
    {
        public OneOf<Response, Invalid> Reject(Invalid invalid) => invalid with { Detail = "The batch is invalid." };
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(HttpRequest request, ISender sender, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        return (await sender.Send(new Command(parsed.Value.Items), ct))
            .Match<Results<Ok<Response>, ProblemHttpResult>>(answered => TypedResults.Ok(answered), invalid => invalid.ToProblem());
    }

    /// <summary>The batch as a whole: 1 to 500 items, none of them null. Each item's own rules are judged per item by the handler.</summary>
    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Items).NotNull().WithMessage("items is required.")
                .Must(items => items is { Count: >= 1 and <= MaxItems }).WithMessage($"items holds 1 to {MaxItems} reports.");
            RuleForEach(command => command.Items).NotNull().WithMessage("An item must be an object.");
        }
    }

    public sealed class Handler(OutcomeRecorder recorder, ReportOutcome.ReportRules rules) : ICommandHandler<Command, OneOf<Response, Invalid>>
    {
        public async ValueTask<OneOf<Response, Invalid>> Handle(Command command, CancellationToken ct)
        {
            var items = command.Items!;
            var answers = new ItemResult?[items.Count];
            var accepted = new List<(int Index, OutcomeRecorder.Report Report)>();
            for (var i = 0; i < items.Count; i++)
            {
                var item = items[i];
                var errors = (await rules.ValidateAsync(item.AsReport(), ct)).ToErrors();
                if (item.ActionId is null)
                    errors["action_id"] = ["action_id is required."];
                if (errors.Count > 0)
                    answers[i] = new ItemResult(item.ActionId, StatusCodes.Status400BadRequest, null, null, null, "The outcome report is invalid.",
                        errors.ToDictionary(e => $"items[{i}].{e.Key}", e => e.Value));
                else
                    accepted.Add((i, item.AsReport().ToReport(item.ActionId!.Value)));
            }
            if (accepted.Count > 0)
            {
                var recorded = await recorder.RecordAsync([.. accepted.Select(a => a.Report)], ct);
                for (var j = 0; j < accepted.Count; j++)
                {
                    var (index, report) = accepted[j];
                    answers[index] = recorded[j].Match(
                        done => new ItemResult(done.ActionId, StatusCodes.Status200OK, done.Outcome, done.LeadStatus, done.NextActionAt, null, null),
                        missing => new ItemResult(report.ActionId, StatusCodes.Status404NotFound, null, null, null, $"Action {missing.Id} was not found.", null),
                        lost => new ItemResult(report.ActionId, StatusCodes.Status409Conflict, null, null, null, lost.Detail, null),
                        invalid => new ItemResult(report.ActionId, StatusCodes.Status400BadRequest, null, null, null, invalid.Detail,
                            invalid.Errors.ToDictionary(e => $"items[{index}].{e.Key}", e => e.Value)));
                }
            }
            return new Response([.. answers.Select(answer => answer!)]);
        }
    }
}
