using System.Text.Json;
using FluentValidation;
using FluentValidation.Internal;
using FluentValidation.Results;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>FluentValidation speaking the wire's language: errors keyed by snake_case JSON path.</summary>
public static class Validation
{
    public const string UserIdKey = "user_id";

    public static void AddValidation(this IServiceCollection services)
    {
        ValidatorOptions.Global.PropertyNameResolver = (_, member, expression) =>
            JsonPath(expression is not null ? PropertyChain.FromExpression(expression).ToString() : member?.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => JsonPath(member?.Name);
    }

    /// <summary>Validates <paramref name="model"/> on behalf of <paramref name="userId"/> (rules that look up the caller's data need it).</summary>
    public static Task<ValidationResult> ValidateForUserAsync<T>(this IValidator<T> validator, T model, Guid userId, CancellationToken ct)
    {
        var context = new ValidationContext<T>(model);
        context.RootContextData[UserIdKey] = userId;
        return validator.ValidateAsync(context, ct);
    }

    public static Dictionary<string, string[]> ToErrors(this ValidationResult result) =>
        result.Errors.GroupBy(error => error.PropertyName)
            .ToDictionary(group => group.Key, group => group.Select(error => error.ErrorMessage).Distinct().ToArray());

    private static string? JsonPath(string? dottedMembers) =>
        dottedMembers is null ? null : string.Join('.', dottedMembers.Split('.').Select(JsonNamingPolicy.SnakeCaseLower.ConvertName));
}
