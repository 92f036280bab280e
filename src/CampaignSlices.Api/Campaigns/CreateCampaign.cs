// Creates a campaign, always as a draft, after checking the whole of it against the contract.
using System.Security.Claims;
using CampaignSlices.Api.Infrastructure;
using Dapper;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using OneOf;

namespace CampaignSlices.Api.Campaigns;

public static class CreateCampaign
{
    [RequiredProperties("dataset_id", "name", "type", "steps_config")]
    public sealed record Request : CampaignFields;

    /// <summary><paramref name="SentNull"/>: the fields the body sent as an explicit null (a clearable field then stays off rather than defaulted).</summary>
    public sealed record Command(CampaignFields Fields, Guid UserId, IReadOnlySet<string> SentNull)
        : ICommand<OneOf<Campaign, Invalid>>, IValidatedRequest<OneOf<Campaign, Invalid>>
    {
        public CampaignFields WithDefaults() => FieldCatalogue.WithDefaults(Fields, SentNull);

        public OneOf<Campaign, Invalid> Reject(Invalid invalid) => invalid with { Detail = "The campaign is invalid." };
    }

    public static async Task<Results<Created<Campaign>, ProblemHttpResult>> Endpoint(
        HttpRequest request, ClaimsPrincipal user, ISender sender, HttpResponse response, CancellationToken ct)
    {
        var body = await JsonBody.ReadAsync<Request>(request, ct);
        if (body.TryPickT1(out var unreadable, out var parsed))
            return unreadable.ToProblem();
        var sentNull = parsed.Json.EnumerateObject().Where(field => field.Value.ValueKind == System.Text.Json.JsonValueKind.Null)
            .Select(field => field.Name).ToHashSet();
        var outcome = await sender.Send(new Command(parsed.Value, user.UserId(), sentNull), ct);
        return outcome.Match<Results<Created<Campaign>, ProblemHttpResult>>(
            campaign =>
            {
                response.Headers.ETag = ETags.For(campaign.Version);
                return TypedResults.Created($"/api/v1/campaigns/{campaign.CampaignId}", campaign);
            },
            invalid => invalid.ToProblem());
    }

    /// <summary>The body's own rules and then the whole campaign with its defaults, every broken rule in one answer.</summary>
    public sealed class Validator : AbstractValidator<Command>
    {
        public Validator(CampaignRequestValidator request, CampaignValidator campaign) =>
            RuleFor(command => command).CustomAsync(async (command, context, ct) =>
            {
                foreach (var failure in (await request.ValidateAsync(command.Fields, ct)).Errors)
                    context.AddFailure(failure);
                foreach (var failure in (await campaign.ValidateForUserAsync(command.WithDefaults(), command.UserId, ct)).Errors)
                    context.AddFailure(failure);
            });
    }

    public sealed class Handler(NpgsqlDataSource db, TimeProvider clock) : ICommandHandler<Command, OneOf<Campaign, Invalid>>
    {
        public async ValueTask<OneOf<Campaign, Invalid>> Handle(Command command, CancellationToken ct)
        {
            var now = clock.GetUtcNow();
            var parameters = CampaignStore.Parameters(command.WithDefaults(), FieldCatalogue.All);
            parameters.Add("campaign_id", Guid.CreateVersion7(now));
            parameters.Add("user_id", command.UserId);
            parameters.Add("now", now);
            await using var connection = await db.OpenConnectionAsync(ct);
            return (await CampaignStore.ReadSingleAsync(connection, new CommandDefinition(Sql, parameters, cancellationToken: ct)))!;
        }
    }

    private static readonly string Sql = $"""
        insert into campaigns as c (campaign_id, user_id, created_at, updated_at, {string.Join(", ", FieldCatalogue.All.Select(field => field.Column))})
        values (@campaign_id, @user_id, @now, @now, {string.Join(", ", FieldCatalogue.All.Select(field => field.Parameter))})
        returning {CampaignStore.Columns}
        """;
}
