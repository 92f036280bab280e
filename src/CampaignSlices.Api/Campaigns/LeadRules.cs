using CampaignSlices.Api.Datasets;
using CampaignSlices.Api.Infrastructure;
using Dapper;

namespace CampaignSlices.Api.Campaigns;

/// <summary>
/// The one rule set, shared by preflight and enrollment: every dataset row checked
/// against the campaign in a single set-based SQL pass, never pulled into .NET.
/// </summary>
public static class LeadRules
{
    public const string MissingPlaceholder = "missing_placeholder";

    private static readonly Dictionary<string, string> Messages = new()
    {
        ["missing_email"] = "An email step needs an email address, and this row has none.",
        ["invalid_email"] = "The email address is malformed.",
        ["duplicate_email"] = "The same email address (ignoring case and surrounding spaces) is on an earlier row.",
        ["missing_linkedin_url"] = "A LinkedIn step needs a LinkedIn profile URL, and this row has none.",
        ["invalid_linkedin_url"] = "The LinkedIn URL is not a profile URL (linkedin.com/in/…).",
        ["missing_phone"] = "A call step needs a phone number, and this row has none.",
        ["invalid_phone"] = "The phone number is not in E.164 form (+14155550123).",
        ["in_other_campaign"] = "This LinkedIn profile is already enrolled in another active or paused LinkedIn campaign of yours.",
        ["unsubscribed"] = "This email address unsubscribed from one of your campaigns.",
    };

    /// <summary>Campaign types whose leads a LinkedIn step reaches: what `in_other_campaign` compares against.</summary>
    private static readonly CampaignType[] LinkedinTypes = [CampaignType.Linkedin, CampaignType.Mixed];

    public sealed record Warning(int RowNumber, string Code, string Field, string Message);

    public sealed record Summary(int TotalRows, int LaunchableRows, int WarningCount, Dictionary<string, int> WarningsByCode);

    /// <summary>What "trimmed" strips from a value: spaces and the tabs and line breaks that spreadsheets leave in cells.</summary>
    private const string Whitespace = @"E' \t\r\n'";

    public static string MessageFor(string code, string field) =>
        code == MissingPlaceholder ? $"The placeholder {{{{{field}}}}} has no value on this row." : Messages[code];

    /// <summary>
    /// Room for the duplicate-email sort of a large dataset to stay in memory; run inside the
    /// transaction of the statement that uses `checked_rows`.
    /// </summary>
    public const string SortMemorySql = "set local work_mem = '64MB'";

    /// <summary>One rule as SQL: a `'code:field'` text or null per row, and the codes it can give.</summary>
    public sealed record Check(string Column, string[] Codes, bool Blocking);

    /// <summary>The `checked_rows` CTE, its parameters, and the column each rule writes its finding to.</summary>
    public sealed record CheckedRowsSql(string Sql, DynamicParameters Parameters, IReadOnlyList<Check> Checks);

    /// <summary>
    /// A `checked_rows` CTE (row_number, email, linkedin_url, linkedin_profile, phone, timezone, one column per
    /// rule holding its 'code:field' finding or null, blocking, flagged) for <paramref name="campaign"/>'s
    /// dataset; append a statement that uses it. Only the checks of the campaign's channels are in the
    /// SQL, each a plain column rather than an array per row: the duplicate sort and the LinkedIn pattern
    /// are most of the cost over a million rows, and are skipped where no rule needs them.
    /// </summary>
    public static CheckedRowsSql CheckedRows(Campaign campaign)
    {
        var channels = campaign.Steps.Select(step => step.Channel).ToHashSet();
        var email = channels.Contains(StepChannel.Email);
        var linkedin = channels.Contains(StepChannel.Linkedin);
        var call = channels.Contains(StepChannel.Call);
        var skipOther = campaign.SkipOtherCampaigns == true && linkedin;
        var placeholders = campaign.Steps.Where(step => step.Channel is not null)
            .SelectMany(step => CampaignValidator.Placeholders(step.MessageTemplate))
            .Concat(email && campaign.Signature?.Contains("%first_name%") == true ? ["first_name"] : [])
            .Distinct().ToList();

        var parameters = new DynamicParameters(new { dataset_id = campaign.DatasetId, campaign_id = campaign.CampaignId, user_id = campaign.UserId });
        var rules = new List<(string Sql, string[] Codes, bool Blocking)>();
        if (email)
        {
            rules.Add(("""
                case when s.email is null then 'missing_email:email'
                     when s.email !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then 'invalid_email:email' end
                """, ["missing_email", "invalid_email"], true));
            rules.Add(("case when s.email is not null and s.duplicate_rank > 1 then 'duplicate_email:email' end", ["duplicate_email"], true));
            // The user-wide list, keyed as duplicate_email compares: lower-cased, trimmed.
            rules.Add(("case when lower(s.email) in (select email from unsubscribes where user_id = @user_id) then 'unsubscribed:email' end",
                ["unsubscribed"], true));
        }
        if (linkedin)
            rules.Add(("""
                case when s.linkedin_url is null then 'missing_linkedin_url:linkedin_url'
                     when s.linkedin_profile is null then 'invalid_linkedin_url:linkedin_url' end
                """, ["missing_linkedin_url", "invalid_linkedin_url"], true));
        if (call)
            rules.Add(("""
                case when s.phone is null then 'missing_phone:phone'
                     when s.phone !~ '^\+[1-9][0-9]{1,14}$' then 'invalid_phone:phone' end
                """, ["missing_phone", "invalid_phone"], true));
        if (skipOther)
            rules.Add(("case when s.linkedin_profile in (select linkedin_profile from other_profiles) then 'in_other_campaign:linkedin_url' end",
                ["in_other_campaign"], true));
        for (var i = 0; i < placeholders.Count; i++)
        {
            var column = placeholders[i];
            parameters.Add($"placeholder_{i}", column);
            // Known columns by their fixed names; any other is a custom attribute looked up by parameter.
            var value = DatasetColumns.Known.Contains(column) ? $"s.{column}" : $"s.attributes ->> @placeholder_{i}";
            rules.Add(($"case when nullif(btrim({value}, {Whitespace}), '') is null then '{MissingPlaceholder}:' || @placeholder_{i} end",
                [MissingPlaceholder], false));
        }
        var checks = rules.Select((rule, i) => new Check($"problem_{i}", rule.Codes, rule.Blocking)).ToList();
        var findings = string.Concat(rules.Select((rule, i) => $",\n{rule.Sql} as problem_{i}"));
        var blocking = Any(checks.Where(check => check.Blocking));
        var flagged = Any(checks);

        if (skipOther)
        {
            parameters.Add("enrolled_statuses", CampaignStatusRules.HoldsEnrolledLeads.Select(status => status.ToWire()).ToArray());
            parameters.Add("linkedin_types", LinkedinTypes.Select(type => type.ToWire()).ToArray());
        }
        var otherProfiles = skipOther
            ? """
              other_profiles as (
                  select distinct l.linkedin_profile
                  from leads l join campaigns c on c.campaign_id = l.campaign_id
                  where c.user_id = @user_id and c.campaign_id <> @campaign_id
                    and c.status = any(@enrolled_statuses) and c.type = any(@linkedin_types) and l.linkedin_profile is not null
              ),
              """
            : "";
        // the row's place among rows with the same email, case and spaces aside
        var duplicateRank = email ? "row_number() over (partition by lower(s.email) order by s.row_number)" : "1";
        var linkedinProfile = LinkedinProfile(linkedin);
        var sql = $$"""
            with source as (
                {{SourceSql}}
            ),
            {{otherProfiles}}
            profiled as (
                select s.*, {{duplicateRank}} as duplicate_rank, {{linkedinProfile}} as linkedin_profile
                from source s
            ),
            problem_rows as (
                select s.row_number, s.email, s.linkedin_url, s.linkedin_profile, s.phone,
                       nullif(btrim(s.attributes ->> 'timezone', {{Whitespace}}), '') as timezone{{findings}}
                from profiled s
            ),
            checked_rows as (
                select p.*, {{blocking}} as blocking, {{flagged}} as flagged
                from problem_rows p
            )
            """;
        return new CheckedRowsSql(sql, parameters, checks);

        static string Any(IEnumerable<Check> some)
        {
            var columns = some.Select(check => $"{check.Column} is not null").ToList();
            return columns.Count == 0 ? "false" : $"({string.Join(" or ", columns)})";
        }
    }

    /// <summary>
    /// Whether a row's verdict can change after the check in a way the kept verdicts cannot follow: `in_other_campaign`
    /// looks at the leads of the user's other campaigns. (`unsubscribed` can change too, but enrollment reads the
    /// user's unsubscribe list again itself: see <see cref="KnownRows"/>.)
    /// </summary>
    public static bool DependsOnOtherCampaigns(Campaign campaign) =>
        campaign.SkipOtherCampaigns == true && campaign.Steps.Any(step => step.Channel == StepChannel.Linkedin);

    /// <summary>
    /// The same `checked_rows` columns (row_number, email, linkedin_url, linkedin_profile, phone, timezone,
    /// blocking) for a campaign whose check already ran and found the rows in <c>@blocked_rows</c>: what
    /// enrollment reads instead of applying the rules again. Only for campaigns whose verdicts cannot change
    /// (<see cref="DependsOnOtherCampaigns"/> false): the dataset never changes, nor, once launched, the steps;
    /// an email unsubscribed since the check is looked up again, so it is never enrolled.
    /// </summary>
    public static CheckedRowsSql KnownRows(Campaign campaign, int[] blockedRows)
    {
        var parameters = new DynamicParameters(new
        {
            dataset_id = campaign.DatasetId, campaign_id = campaign.CampaignId, user_id = campaign.UserId, blocked_rows = blockedRows,
        });
        var linkedin = campaign.Steps.Any(step => step.Channel == StepChannel.Linkedin);
        var unsubscribed = campaign.Steps.Any(step => step.Channel == StepChannel.Email)
            ? " or lower(s.email) in (select email from unsubscribes where user_id = @user_id)"
            : "";
        var sql = $$"""
            with source as (
                {{SourceSql}}
            ),
            blocked as (
                select unnest(@blocked_rows::integer[]) as row_number
            ),
            checked_rows as (
                select s.row_number, s.email, s.linkedin_url, {{LinkedinProfile(linkedin)}} as linkedin_profile, s.phone,
                       nullif(btrim(s.attributes ->> 'timezone', {{Whitespace}}), '') as timezone,
                       s.row_number in (select row_number from blocked){{unsubscribed}} as blocking
                from source s
            )
            """;
        return new CheckedRowsSql(sql, parameters, []);
    }

    private static readonly string SourceSql = $"""
        select r.row_number, nullif(btrim(r.email, {Whitespace}), '') as email, nullif(btrim(r.linkedin_url, {Whitespace}), '') as linkedin_url,
                       nullif(btrim(r.phone, {Whitespace}), '') as phone, r.first_name, r.last_name, r.company, r.attributes
                from dataset_rows r
                where r.dataset_id = @dataset_id
        """;

    /// <summary>The profile's slug, lower-cased: how one person is recognised across URL spellings; null when not a profile URL.</summary>
    private static string LinkedinProfile(bool linkedin) => linkedin
        ? "lower(substring(s.linkedin_url from '(?i)^(?:https?://)?(?:[a-z]{2,3}\\.)?linkedin\\.com/in/([^/?#[:space:]]+)/?(?:[?#][^[:space:]]*)?$'))"
        : "null::text";
}
