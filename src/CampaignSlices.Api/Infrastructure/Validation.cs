using System.Text.Json;
using FluentValidation;
using FluentValidation.Internal;
using FluentValidation.Results;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>FluentValidation speaking the wire's language: errors keyed by snake_case JSON path.</summary>
public static class Validation
{
    public const string UserIdKey = "user_id";
    public const string ChangedFieldsKey = "changed_fields";

    public static void AddValidation(this IServiceCollection services)
    {
        ValidatorOptions.Global.PropertyNameResolver = (_, member, expression) =>
            JsonPath(expression is not null ? PropertyChain.FromExpression(expression).ToString() : member?.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => JsonPath(member?.Name);
    }

    /// <summary>
    /// Validates <paramref name="model"/> on behalf of <paramref name="userId"/> (rules that look up the
    /// caller's data need it); <paramref name="changedFields"/>, when given, lets rules about the moment
    /// of a change (a start date in the future) skip fields the request leaves as they were.
    /// </summary>
    public static Task<ValidationResult> ValidateForUserAsync<T>(
        this IValidator<T> validator, T model, Guid userId, CancellationToken ct, IReadOnlySet<string>? changedFields = null)
    {
        var context = new ValidationContext<T>(model);
        context.RootContextData[UserIdKey] = userId;
        if (changedFields is not null)
            context.RootContextData[ChangedFieldsKey] = changedFields;
        return validator.ValidateAsync(context, ct);
    }

    public static Dictionary<string, string[]> ToErrors(this ValidationResult result) =>
        result.Errors.GroupBy(error => error.PropertyName)
            .ToDictionary(group => group.Key, group => group.Select(error => error.ErrorMessage).Distinct().ToArray());

    private static string? JsonPath(string? dottedMembers) =>
        dottedMembers is null ? null : string.Join('.', dottedMembers.Split('.').Select(JsonNamingPolicy.SnakeCaseLower.ConvertName));
}
