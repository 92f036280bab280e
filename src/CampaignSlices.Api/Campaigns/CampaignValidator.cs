using System.Text.Json;
using System.Text.RegularExpressions;
using CampaignSlices.Api.Datasets;
using CampaignSlices.Api.Infrastructure;
using CampaignSlices.Api.Webhooks;
using Dapper;
using FluentValidation;
using Npgsql;

namespace CampaignSlices.Api.Campaigns;

/// <summary>Rules of a request body itself, before defaults and collapsing: create and PATCH alike.</summary>
public sealed class CampaignRequestValidator : AbstractValidator<CampaignFields>
{
    public CampaignRequestValidator() =>
        RuleFor(c => c.AccountLimits).Must(limits => limits!.Count <= 50).When(c => c.AccountLimits is not null)
            .WithMessage("At most 50 entries per request.");
}

/// <summary>
/// The campaign as a whole, defaults applied: what create checks, and what a PATCH
/// checks after merging. Needs the caller's id in the context (<see cref="Validation.UserIdKey"/>)
/// to check that the dataset is theirs.
/// </summary>
public sealed partial class CampaignValidator : AbstractValidator<CampaignFields>
{
    private const string DatasetColumnsKey = "dataset_columns";

    /// <summary>Metadata is measured as its compact UTF-8 text: letters outside ASCII count their UTF-8 bytes, not a \uXXXX escape.</summary>
    private static readonly JsonSerializerOptions CompactUtf8 = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private const int MaxDelayMinutes = 30 * 24 * 60;
    private const string MustNotBeNull = "Must not be null.";
    private static readonly HashSet<string> SignaturePlaceholders = ["sender_first_name", "sender_last_name", "sender_email", "first_name"];

    private static readonly Dictionary<CampaignType, StepChannel[]> ChannelsByType = new()
    {
        [CampaignType.Email] = [StepChannel.Email],
        [CampaignType.Linkedin] = [StepChannel.Linkedin],
        [CampaignType.Mixed] = [StepChannel.Email, StepChannel.Linkedin],
        [CampaignType.Voice] = [StepChannel.Call],
    };

    public CampaignValidator(TimeProvider clock, NpgsqlDataSource db, WebhookTargets webhookTargets)
    {
        RuleFor(c => c.DatasetId).NotNull().WithMessage("Required.")
            .CustomAsync(async (datasetId, context, ct) =>
            {
                if (datasetId is not Guid id)
                    return;
                await using var connection = await db.OpenConnectionAsync(ct);
                var columns = await connection.QuerySingleOrDefaultAsync<string[]>(new CommandDefinition(
                    "select columns from datasets where dataset_id = @id and user_id = @userId",
                    new { id, userId = (Guid)context.RootContextData[Validation.UserIdKey] }, cancellationToken: ct));
                if (columns is null)
                    context.AddFailure("dataset_id", "No such dataset.");
                else
                    context.RootContextData[DatasetColumnsKey] = columns;
            });
        RuleFor(c => c.Name).Cascade(CascadeMode.Stop).NotNull().WithMessage("Required.")
            .Must(name => !string.IsNullOrWhiteSpace(name)).WithMessage("Must not be blank.")
            .MaximumLength(255).WithMessage("At most 255 characters.");
        RuleFor(c => c.Description).MaximumLength(1000).WithMessage("At most 1000 characters.");
        RuleFor(c => c.Type).NotNull().WithMessage("Required.");
        RuleFor(c => c.DailyLimit).InclusiveBetween(1, 10000).WithMessage("Must be between 1 and 10000.");
        RuleFor(c => c.SendingWindowStart).Must(IsClockTime!).When(c => c.SendingWindowStart is not null).WithMessage("Must be a time as HH:MM.");
        RuleFor(c => c.SendingWindowEnd).Must(IsClockTime!).When(c => c.SendingWindowEnd is not null).WithMessage("Must be a time as HH:MM.")
            .NotEqual(c => c.SendingWindowStart).WithMessage("Must differ from sending_window_start.");
        RuleFor(c => c.MinIntervalSeconds).InclusiveBetween(60, 3600).WithMessage("Must be between 60 and 3600.");
        RuleFor(c => c.Timezone).Must(IsIanaZone!).When(c => c.Timezone is not null).WithMessage("Must be an IANA time zone such as Europe/Berlin.");
        RuleFor(c => c.BlackoutDates).Must(dates => dates!.Count <= 366).When(c => c.BlackoutDates is not null).WithMessage("At most 366 dates.")
            .Must(dates => dates!.Distinct().Count() == dates!.Count).When(c => c.BlackoutDates is not null).WithMessage("Dates must not repeat.");
        RuleFor(c => c.BouncePausePercent).InclusiveBetween(0.5, 100).WithMessage("Must be between 0.5 and 100, or null to turn the bounce guard off.");
        RuleFor(c => c.SendDays).NotEmpty().WithMessage("Needs at least one day.")
            .Must(days => days!.Distinct().Count() == days!.Count).When(c => c.SendDays is not null).WithMessage("Days must not repeat.");
        RuleFor(c => c.Signature).MaximumLength(2000).WithMessage("At most 2000 characters.")
            .Must(HasOnlyKnownSignaturePlaceholders!).When(c => c.Signature is not null)
            .WithMessage("Only %sender_first_name%, %sender_last_name%, %sender_email% and %first_name% may be used.");
        RuleFor(c => c.SystemPrompt).Length(100, 5000).When(c => c.SystemPrompt is not null).WithMessage("Must be 100 to 5000 characters.");
        RuleFor(c => c.AliasIds).Must(ids => ids!.Count <= 50).When(c => c.AliasIds is not null).WithMessage("At most 50 aliases.")
            .Must(ids => ids!.Distinct().Count() == ids!.Count).When(c => c.AliasIds is not null).WithMessage("Aliases must not repeat.");
        RuleForEach(c => c.AliasIds).NotEmpty().WithMessage("Must not be empty.").MaximumLength(255).WithMessage("At most 255 characters.");
        RuleForEach(c => c.AccountLimits).NotNull().WithMessage(MustNotBeNull).ChildRules(limit =>
        {
            limit.RuleFor(l => l.AccountId).NotEmpty().WithMessage("Required.");
            limit.RuleFor(l => l.DailyLimit).NotNull().WithMessage("Required.").InclusiveBetween(1, 500).WithMessage("Must be between 1 and 500.");
        });
        RuleFor(c => c.WebhookConfig!.Url).Cascade(CascadeMode.Stop).NotNull().WithMessage("Required.")
            .Must(IsHttpUrl!).WithMessage("Must be an absolute http(s) URL of at most 2048 characters.")
            // Checked when the URL is set, like a start date: a stored URL is checked again when delivered.
            .Custom((url, context) =>
            {
                if (Changes(context, "webhook_config") && webhookTargets.RefusedLiteral(new Uri(url!)) is { } refused)
                    context.AddFailure(refused);
            })
            .When(c => c.WebhookConfig is not null);
        RuleFor(c => c.WebhookConfig!.Metadata)
            .Must(metadata => metadata is null || JsonSerializer.SerializeToUtf8Bytes(metadata, CompactUtf8).Length <= 4096)
            .WithMessage("At most 4 KiB.")
            .When(c => c.WebhookConfig is not null);
        RuleFor(c => c.OperatingHours).Custom((hours, context) => CheckOperatingHours(hours, context));
        RuleFor(c => c.StepsConfig).Cascade(CascadeMode.Stop).NotNull().WithMessage("Required.")
            .Must(steps => steps!.Count is >= 1 and <= 10).WithMessage("Needs 1 to 10 steps.");
        RuleForEach(c => c.StepsConfig).NotNull().WithMessage(MustNotBeNull).SetValidator(new StepValidator());
        RuleFor(c => c.VoiceConfig!).SetValidator(new VoiceConfigValidator()).When(c => c.VoiceConfig is not null);
        RuleFor(c => c).Custom((campaign, context) => CheckAcrossFields(campaign, context, clock.GetUtcNow()));
    }

    private static void CheckAcrossFields(CampaignFields campaign, ValidationContext<CampaignFields> context, DateTimeOffset now)
    {
        var steps = campaign.StepsConfig ?? [];
        var channels = steps.Select(step => step?.Channel).OfType<StepChannel>().ToHashSet();
        var hasEmail = channels.Contains(StepChannel.Email);
        var hasLinkedin = channels.Contains(StepChannel.Linkedin);
        // Without a valid step there is no channel to judge the senders by; steps_config has its own error.
        var channelsKnown = channels.Count > 0;

        if (campaign.Type is CampaignType type)
        {
            for (var i = 0; i < steps.Count; i++)
                if (steps[i]?.Channel is StepChannel channel && !ChannelsByType[type].Contains(channel))
                    context.AddFailure($"steps_config[{i}].channel",
                        $"A {type.ToWire()} campaign takes only {string.Join(" and ", ChannelsByType[type].Select(c => c.ToWire()))} steps.");
            if (type == CampaignType.Voice && campaign.VoiceConfig is null)
                context.AddFailure("voice_config", "Required for a voice campaign.");
            if (type != CampaignType.Voice && campaign.VoiceConfig is not null)
                context.AddFailure("voice_config", "Only a voice campaign has a voice_config.");
        }

        if (hasEmail && (campaign.AliasIds is null || campaign.AliasIds.Count == 0))
            context.AddFailure("alias_ids", "Required (at least one sender) when a step sends email.");
        if (channelsKnown && !hasEmail && campaign.AliasIds is { Count: > 0 })
            context.AddFailure("alias_ids", "Only campaigns with an email step have email senders.");
        if (channelsKnown && !hasEmail && campaign.AccountLimits is { Count: > 0 })
            context.AddFailure("account_limits", "Only campaigns with an email step have per-sender limits.");
        var aliases = campaign.AliasIds?.ToHashSet() ?? [];
        for (var i = 0; i < (campaign.AccountLimits?.Count ?? 0); i++)
            if (campaign.AccountLimits![i]?.AccountId is { Length: > 0 } account && hasEmail && !aliases.Contains(account))
                context.AddFailure($"account_limits[{i}].account_id", "Must be one of alias_ids.");
        if (hasLinkedin && campaign.ConnectedAccountId is null)
            context.AddFailure("connected_account_id", "Required when a step is on LinkedIn.");
        if (channelsKnown && !hasLinkedin && campaign.ConnectedAccountId is not null)
            context.AddFailure("connected_account_id", "Only campaigns with a LinkedIn step have a connected account.");

        if (campaign.LaunchType == LaunchType.Scheduled && campaign.StartDate is null)
            context.AddFailure("start_date", "Required when launch_type is scheduled.");
        var startChanges = Changes(context, "start_date", "launch_type");
        if (startChanges && campaign.LaunchType == LaunchType.Scheduled && campaign.StartDate <= now)
            context.AddFailure("start_date", "Must be in the future.");
        if (campaign.EndDate is DateTimeOffset end && campaign.StartDate is DateTimeOffset start && end <= start)
            context.AddFailure("end_date", "Must be after start_date.");

        if (context.RootContextData.TryGetValue(DatasetColumnsKey, out var found) && found is string[] columns)
            for (var i = 0; i < steps.Count; i++)
                foreach (var placeholder in Placeholders(steps[i]?.MessageTemplate).Where(p => !columns.Contains(p) && !DatasetColumns.Known.Contains(p)))
                    context.AddFailure($"steps_config[{i}].message_template", $"{{{{{placeholder}}}}} names no column of the dataset.");
    }

    private static void CheckOperatingHours(OperatingHours? hours, ValidationContext<CampaignFields> context)
    {
        foreach (var (day, windows) in hours?.Days() ?? [])
        {
            for (var i = 0; i < windows.Count; i++)
            {
                var path = $"operating_hours.{day}[{i}]";
                if (windows[i] is null)
                    context.AddFailure(path, MustNotBeNull);
                else if (windows[i].Start is not { } start || !IsClockTime(start))
                    context.AddFailure($"{path}.start", "Must be a time as HH:MM.");
                else if (windows[i].End is not { } end || !IsClockTime(end))
                    context.AddFailure($"{path}.end", "Must be a time as HH:MM.");
                else if (string.CompareOrdinal(start, end) >= 0)
                    context.AddFailure($"{path}.end", "Must be after start (a window stays within its day).");
            }
            var ordered = windows.Where(w => w?.Start is { } s && w.End is { } e && IsClockTime(s) && IsClockTime(e) && string.CompareOrdinal(s, e) < 0)
                .OrderBy(w => w.Start, StringComparer.Ordinal).ToList();
            for (var i = 1; i < ordered.Count; i++)
                if (string.CompareOrdinal(ordered[i].Start, ordered[i - 1].End) < 0)
                    context.AddFailure($"operating_hours.{day}", $"Windows {ordered[i - 1].Start}–{ordered[i - 1].End} and {ordered[i].Start}–{ordered[i].End} overlap.");
        }
    }

    /// <summary>Whether the request sets one of <paramref name="fields"/>: always on create, on PATCH when it changes them.</summary>
    private static bool Changes(IValidationContext context, params string[] fields) =>
        !context.RootContextData.TryGetValue(Validation.ChangedFieldsKey, out var changed) || ((IReadOnlySet<string>)changed).Overlaps(fields);

    public static IEnumerable<string> Placeholders(string? template) =>
        template is null ? [] : PlaceholderPattern().Matches(template).Select(m => m.Groups[1].Value.Trim()).Distinct();

    private static bool IsClockTime(string value) => ClockTime().IsMatch(value);

    private static bool IsIanaZone(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) && zone.HasIanaId;

    private static bool IsHttpUrl(string url) =>
        url.Length <= 2048 && Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static bool HasOnlyKnownSignaturePlaceholders(string signature) =>
        SignaturePlaceholder().Matches(signature).All(m => SignaturePlaceholders.Contains(m.Groups[1].Value));

    [GeneratedRegex("^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    private static partial Regex ClockTime();

    [GeneratedRegex(@"\{\{\s*([^{}]+?)\s*\}\}")]
    private static partial Regex PlaceholderPattern();

    [GeneratedRegex("%([a-z_]+)%")]
    private static partial Regex SignaturePlaceholder();

    private sealed class StepValidator : AbstractValidator<CampaignStep>
    {
        public StepValidator()
        {
            RuleFor(s => s.Channel).NotNull().WithMessage("Required.");
            RuleFor(s => s.DelayDays).GreaterThanOrEqualTo(0).WithMessage("Must not be negative.");
            RuleFor(s => s.DelayHours).GreaterThanOrEqualTo(0).WithMessage("Must not be negative.");
            RuleFor(s => s.DelayMinutes).GreaterThanOrEqualTo(0).WithMessage("Must not be negative.");
            RuleFor(s => s.TotalDelayMinutes)
                .LessThanOrEqualTo(MaxDelayMinutes).WithMessage("A step's total delay may not exceed 30 days.").OverridePropertyName("delay_days")
                .When(s => s.DelayDays >= 0 && s.DelayHours >= 0 && s.DelayMinutes >= 0);
            RuleFor(s => s.TotalDelayMinutes)
                .GreaterThanOrEqualTo(1).WithMessage("Every step after the first needs a total delay of at least 1 minute.").OverridePropertyName("delay_minutes")
                .When(s => s.Step > 1 && s.DelayDays >= 0 && s.DelayHours >= 0 && s.DelayMinutes >= 0);
            RuleFor(s => s.MessageTemplate).MaximumLength(10000).WithMessage("At most 10000 characters.");
            RuleFor(s => s.Variants).Must(v => v.Count <= 5).WithMessage("At most 5 variants.")
                .Must(v => v.Sum(x => x?.Weight ?? 0) == 100).When(s => s.Variants.Count > 0).WithMessage("Variant weights must sum to 100.")
                .Must(v => v.Select(x => x?.Label).Distinct().Count() == v.Count).WithMessage("Variant labels must be unique in the step.");
            RuleForEach(s => s.Variants).NotNull().WithMessage(MustNotBeNull).ChildRules(variant =>
            {
                variant.RuleFor(v => v.Label).NotEmpty().WithMessage("Required.").MaximumLength(50).WithMessage("At most 50 characters.");
                variant.RuleFor(v => v.Weight).NotNull().WithMessage("Required.").InclusiveBetween(1, 100).WithMessage("Must be between 1 and 100.");
                variant.RuleFor(v => v.Type).NotNull().WithMessage("Required.");
                variant.RuleFor(v => v.TemplateId).NotNull().When(v => v.Type == VariantType.Template).WithMessage("Required for a template variant.");
            });
            RuleFor(s => s.MessageTemplate).NotEmpty().When(s => s.Channel == StepChannel.Email && s.Variants.Count == 0)
                .WithMessage("An email step needs a message_template or at least one variant.");
            RuleFor(s => s.ActionType).NotNull().When(s => s.Channel == StepChannel.Linkedin).WithMessage("Required for a LinkedIn step.");
            RuleFor(s => s.ActionType).Null().When(s => s.Channel is not null and not StepChannel.Linkedin).WithMessage("Only LinkedIn steps have an action_type.");
            RuleFor(s => s.MessageTemplate).NotEmpty().When(s => s.ActionType is LinkedinAction.Message or LinkedinAction.Inmail)
                .WithMessage("A message or inmail step needs a message_template.");
        }
    }

    private sealed partial class VoiceConfigValidator : AbstractValidator<VoiceConfig>
    {
        public VoiceConfigValidator()
        {
            RuleFor(v => v.AppId).NotEmpty().WithMessage("Required.");
            RuleFor(v => v.AppVersion).GreaterThanOrEqualTo(1).WithMessage("Must be at least 1.");
            RuleFor(v => v.AttemptsPerSecond).NotNull().WithMessage("Required.").InclusiveBetween(0.1, 500).WithMessage("Must be between 0.1 and 500.");
            RuleFor(v => v.ConnectionConfigs).Cascade(CascadeMode.Stop).NotNull().WithMessage("Required.")
                .Must(c => c!.Count is >= 1 and <= 20).WithMessage("Needs 1 to 20 connections.");
            RuleForEach(v => v.ConnectionConfigs).NotNull().WithMessage(MustNotBeNull).ChildRules(connection =>
            {
                connection.RuleFor(c => c.ConnectionId).NotEmpty().WithMessage("Required.");
                connection.RuleFor(c => c.Weight).NotNull().WithMessage("Required.").InclusiveBetween(1, 100).WithMessage("Must be between 1 and 100.");
                connection.RuleFor(c => c.PhoneNumbers).Cascade(CascadeMode.Stop).NotNull().WithMessage("Required.")
                    .Must(p => p!.Count is >= 1 and <= 100).WithMessage("Needs 1 to 100 phone numbers.");
                connection.RuleForEach(c => c.PhoneNumbers).Must(p => p is not null && E164().IsMatch(p)).WithMessage("Must be an E.164 number such as +14155550123.");
            });
            When(v => v.RetryConfig is not null, () =>
            {
                RuleFor(v => v.RetryConfig!.MaxRetries).InclusiveBetween(0, 10).WithMessage("Must be between 0 and 10.");
                RuleFor(v => v.RetryConfig!.RetryIntervalMinutes)
                    .Must((v, intervals) => intervals!.Count <= (v.RetryConfig!.MaxRetries ?? 0))
                    .When(v => v.RetryConfig!.RetryIntervalMinutes is not null)
                    .WithMessage("Has more entries than max_retries.");
                RuleForEach(v => v.RetryConfig!.RetryIntervalMinutes).InclusiveBetween(1, 1440).WithMessage("Must be between 1 and 1440.");
                RuleFor(v => v.RetryConfig!.RetryOn!.ShortDuration!.ThresholdSeconds).InclusiveBetween(1, 600).WithMessage("Must be between 1 and 600.")
                    .NotNull().When(v => v.RetryConfig!.RetryOn?.ShortDuration?.Enabled == true, ApplyConditionTo.CurrentValidator).WithMessage("Required when enabled.")
                    .When(v => v.RetryConfig!.RetryOn?.ShortDuration is not null);
                RuleFor(v => v.RetryConfig!.RetryOn!.ProviderError!).SetValidator(new ErrorRetryValidator())
                    .When(v => v.RetryConfig!.RetryOn?.ProviderError is not null);
                RuleFor(v => v.RetryConfig!.RetryOn!.InternalError!).SetValidator(new ErrorRetryValidator())
                    .When(v => v.RetryConfig!.RetryOn?.InternalError is not null);
            });
        }

        [GeneratedRegex(@"^\+[1-9][0-9]{1,14}$")]
        private static partial Regex E164();
    }

    private sealed class ErrorRetryValidator : AbstractValidator<ErrorRetry>
    {
        public ErrorRetryValidator()
        {
            RuleFor(e => e.MaxRetries).InclusiveBetween(0, 10).WithMessage("Must be between 0 and 10.");
            RuleFor(e => e.RetryIntervalMinutes).InclusiveBetween(1, 1440).WithMessage("Must be between 1 and 1440.");
        }
    }
}
