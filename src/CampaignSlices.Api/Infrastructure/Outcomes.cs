using Microsoft.AspNetCore.Http.HttpResults;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>The request broke rules of the contract: 400 with every broken rule keyed by its JSON path.</summary>
public sealed record Invalid(IReadOnlyDictionary<string, string[]> Errors, string Detail = "The request is invalid.")
{
    public static Invalid At(string field, string message) => new(new Dictionary<string, string[]> { [field] = [message] }, message);

    public ProblemHttpResult ToProblem() => Problems.Invalid(Detail, Errors.ToDictionary());
}

/// <summary>No such resource for this caller (another user's answers the same).</summary>
public sealed record Missing(string Resource, Guid Id)
{
    public ProblemHttpResult ToProblem() => Problems.NotFound($"{Resource} {Id} was not found.");
}
