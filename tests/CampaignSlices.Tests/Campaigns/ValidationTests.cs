using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CampaignSlices.Tests.Infrastructure;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;

namespace CampaignSlices.Tests.Campaigns;

/// <summary>
/// The field rules of docs/campaign-fields.md on create: both sides of every bound, each cross-field rule, and the exact JSON path
/// each 400 names. A case is a valid body of one type with one edit.
/// </summary>
public sealed class ValidationTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    /// <summary>A dataset column beyond the known ones, usable as a placeholder.</summary>
    private const string CustomColumn = "favourite_color";

    private readonly Guid _user = Guid.NewGuid();

    private sealed record Case(string Kind, Action<JsonObject> Edit, params string[] Errors);

    private static string Text(int length) => new('x', length);

    private static readonly DateTimeOffset Tomorrow = DateTimeOffset.UtcNow.AddDays(1);

    private static JsonObject Step(string channel, int delayDays = 1, string? actionType = null, string? template = null) => new()
    {
        ["channel"] = channel, ["delay_days"] = delayDays, ["action_type"] = actionType, ["message_template"] = template,
    };

    private static JsonObject VariantOf(string label, int weight) => new() { ["label"] = label, ["weight"] = weight, ["type"] = "ai" };

    private static JsonObject Window(string start, string end) => new() { ["start"] = start, ["end"] = end };

    private static JsonArray Days(params JsonObject[] windows) => new(windows.Select(w => (JsonNode?)w).ToArray());

    private const string Voice0 = "voice_config.connection_configs[0]";
    private const string RetryOn = "voice_config.retry_config.retry_on";

    /// <summary>Values just outside a range, missing values and broken cross-field rules: 400 naming exactly these paths.</summary>
    private static readonly Dictionary<string, Case> Rejected = new()
    {
        ["dataset_id missing"] = new("email", b => b.Drop("dataset_id"), "dataset_id"),
        ["dataset_id not a uuid"] = new("email", b => b.Set("dataset_id", "dataset-1"), "dataset_id"),
        ["dataset_id unknown"] = new("email", b => b.Set("dataset_id", Guid.NewGuid()), "dataset_id"),
        ["name missing"] = new("email", b => b.Drop("name"), "name"),
        ["name null"] = new("email", b => b.Set("name", null), "name"),
        ["name empty"] = new("email", b => b.Set("name", ""), "name"),
        ["name blank"] = new("email", b => b.Set("name", "   "), "name"),
        ["name 256 chars"] = new("email", b => b.Set("name", Text(256)), "name"),
        ["name a number"] = new("email", b => b.Set("name", 5), "name"),
        ["description 1001 chars"] = new("email", b => b.Set("description", Text(1001)), "description"),
        ["type missing"] = new("email", b => b.Drop("type"), "type"),
        ["type unknown"] = new("email", b => b.Set("type", "sms"), "type"),
        ["launch_type unknown"] = new("email", b => b.Set("launch_type", "later"), "launch_type"),
        ["daily_limit 0"] = new("email", b => b.Set("daily_limit", 0), "daily_limit"),
        ["daily_limit 10001"] = new("email", b => b.Set("daily_limit", 10001), "daily_limit"),
        ["daily_limit a string"] = new("email", b => b.Set("daily_limit", "100"), "daily_limit"),
        ["daily_limit a fraction"] = new("email", b => b.Set("daily_limit", 1.5), "daily_limit"),
        ["sending_window_start 24:00"] = new("email", b => b.Set("sending_window_start", "24:00"), "sending_window_start"),
        ["sending_window_start 9:00"] = new("email", b => b.Set("sending_window_start", "9:00"), "sending_window_start"),
        ["sending_window_end 17:60"] = new("email", b => b.Set("sending_window_end", "17:60"), "sending_window_end"),
        ["sending window start equals end"] = new("email", b => { b.Set("sending_window_start", "10:00"); b.Set("sending_window_end", "10:00"); }, "sending_window_end"),
        ["min_interval_seconds 59"] = new("email", b => b.Set("min_interval_seconds", 59), "min_interval_seconds"),
        ["min_interval_seconds 3601"] = new("email", b => b.Set("min_interval_seconds", 3601), "min_interval_seconds"),
        ["timezone unknown"] = new("email", b => b.Set("timezone", "Mars/Olympus_Mons"), "timezone"),
        ["timezone empty"] = new("email", b => b.Set("timezone", ""), "timezone"),
        ["send_days empty"] = new("email", b => b.Set("send_days", new JsonArray()), "send_days"),
        ["send_days repeated"] = new("email", b => b.Set("send_days", new JsonArray("mon", "tue", "mon")), "send_days"),
        ["send_days full name"] = new("email", b => b.Set("send_days", new JsonArray("monday")), "send_days[0]"),
        ["blackout_dates 367"] = new("email", b => b.Set("blackout_dates", Dates(367)), "blackout_dates"),
        ["blackout_dates repeated"] = new("email", b => b.Set("blackout_dates", new JsonArray("2027-01-01", "2027-01-01")), "blackout_dates"),
        ["blackout_dates with a time"] = new("email", b => b.Set("blackout_dates", new JsonArray("2027-01-01T00:00:00Z")), "blackout_dates[0]"),
        ["blackout_dates not a day"] = new("email", b => b.Set("blackout_dates", new JsonArray("2027-02-30")), "blackout_dates[0]"),
        ["operating_hours overlapping windows"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["mon"] = Days(Window("09:00", "12:00"), Window("11:59", "13:00")) }), "operating_hours.mon"),
        ["operating_hours overlap listed out of order"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["tue"] = Days(Window("14:00", "16:00"), Window("08:00", "10:00"), Window("09:30", "11:00")) }), "operating_hours.tue"),
        ["operating_hours end before start"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["mon"] = Days(Window("12:00", "09:00")) }), "operating_hours.mon[0].end"),
        ["operating_hours end equals start"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["wed"] = Days(Window("09:00", "17:00"), Window("18:00", "18:00")) }), "operating_hours.wed[1].end"),
        ["operating_hours window past midnight"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["fri"] = Days(Window("22:00", "02:00")) }), "operating_hours.fri[0].end"),
        ["operating_hours start not HH:MM"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["mon"] = Days(Window("9am", "12:00")) }), "operating_hours.mon[0].start"),
        ["operating_hours end missing"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["mon"] = new JsonArray(new JsonObject { ["start"] = "09:00" }) }), "operating_hours.mon[0].end"),
        ["operating_hours unknown day"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["monday"] = Days(Window("09:00", "12:00")) }), "operating_hours.monday"),

        ["steps_config missing"] = new("voice", b => b.Drop("steps_config"), "steps_config"),
        ["steps_config empty"] = new("voice", b => b.Set("steps_config", new JsonArray()), "steps_config"),
        ["steps_config missing with senders"] = new("email", b => b.Drop("steps_config"), "steps_config"),
        ["steps_config empty with senders"] = new("email", b => b.Set("steps_config", new JsonArray()), "steps_config"),
        ["steps_config 11 steps"] = new("voice", b => b.Set("steps_config", JsonPaths.Repeat(11, _ => Step("call"))), "steps_config"),
        ["steps_config null step"] = new("voice", b => b.Set("steps_config", new JsonArray(Step("call", 0), null)), "steps_config[1]"),
        ["variants null variant"] = new("email", b => b.Set("steps_config[1].variants", new JsonArray(VariantOf("A", 100), null)), "steps_config[1].variants[1]"),
        ["alias_ids null id"] = new("email", b => b.Set("alias_ids", new JsonArray("alias-1", null)), "alias_ids[1]"),
        ["account_limits null entry"] = new("email", b => b.Set("account_limits", new JsonArray((JsonNode?)null)), "account_limits[0]"),
        ["operating_hours null window"] = new("email", b => b.Set("operating_hours", new JsonObject { ["mon"] = new JsonArray((JsonNode?)null) }), "operating_hours.mon[0]"),
        ["voice connection_configs null entry"] = new("voice", b => b.Set("voice_config.connection_configs", new JsonArray((JsonNode?)null)), "voice_config.connection_configs[0]"),
        ["voice phone number null"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", new JsonArray((JsonNode?)null)), $"{Voice0}.phone_numbers[0]"),
        ["send_days null day"] = new("email", b => b.Set("send_days", new JsonArray("mon", null)), "send_days[1]"),
        ["step channel missing"] = new("email", b => b.Drop("steps_config[0].channel"), "steps_config[0].channel"),
        ["step channel unknown"] = new("email", b => b.Set("steps_config[0].channel", "sms"), "steps_config[0].channel"),
        ["step delay_days -1"] = new("email", b => b.Set("steps_config[1].delay_days", -1), "steps_config[1].delay_days"),
        ["step delay_hours -1"] = new("email", b => b.Set("steps_config[1].delay_hours", -1), "steps_config[1].delay_hours"),
        ["step delay_minutes -1"] = new("email", b => b.Set("steps_config[1].delay_minutes", -1), "steps_config[1].delay_minutes"),
        ["later step without delay"] = new("email", b => b.Set("steps_config[1].delay_days", 0), "steps_config[1].delay_minutes"),
        ["step delay 30 days and 1 minute"] = new("email", b => { b.Set("steps_config[1].delay_days", 30); b.Set("steps_config[1].delay_minutes", 1); },
            "steps_config[1].delay_days"),
        ["step delay 721 hours"] = new("email", b => { b.Set("steps_config[1].delay_days", 0); b.Set("steps_config[1].delay_hours", 721); },
            "steps_config[1].delay_days"),
        ["first step delay 31 days"] = new("email", b => b.Set("steps_config[0].delay_days", 31), "steps_config[0].delay_days"),
        ["message_template 10001 chars"] = new("email", b => b.Set("steps_config[0].message_template", Text(10001)), "steps_config[0].message_template"),
        ["email step with neither template nor variants"] = new("email", b => b.Drop("steps_config[0].message_template"), "steps_config[0].message_template"),
        ["email step with an empty template"] = new("email", b => b.Set("steps_config[0].message_template", ""), "steps_config[0].message_template"),
        ["placeholder naming no dataset column"] = new("email", b => b.Set("steps_config[0].message_template", "Hi {{first_name}}, {{shoe_size}}"),
            "steps_config[0].message_template"),
        ["action_type on an email step"] = new("email", b => b.Set("steps_config[0].action_type", "follow"), "steps_config[0].action_type"),
        ["action_type unknown"] = new("linkedin", b => b.Set("steps_config[0].action_type", "poke"), "steps_config[0].action_type"),
        ["linkedin step without action_type"] = new("linkedin", b => b.Drop("steps_config[0].action_type"), "steps_config[0].action_type"),
        ["message step without template"] = new("linkedin", b => b.Drop("steps_config[1].message_template"), "steps_config[1].message_template"),
        ["inmail step without template"] = new("linkedin", b => b.Set("steps_config[0].action_type", "inmail"), "steps_config[0].message_template"),
        ["variant label missing"] = new("email", b => b.Drop("steps_config[1].variants[0].label"), "steps_config[1].variants[0].label"),
        ["variant label empty"] = new("email", b => b.Set("steps_config[1].variants[0].label", ""), "steps_config[1].variants[0].label"),
        ["variant label 51 chars"] = new("email", b => b.Set("steps_config[1].variants[0].label", Text(51)), "steps_config[1].variants[0].label"),
        ["variant labels repeated"] = new("email", b => b.Set("steps_config[1].variants[1].label", "A"), "steps_config[1].variants"),
        ["variant weight 0"] = new("email", b => { b.Set("steps_config[1].variants[0].weight", 0); b.Set("steps_config[1].variants[1].weight", 100); },
            "steps_config[1].variants[0].weight"),
        ["variant weight 101"] = new("email", b => b.Set("steps_config[1].variants", new JsonArray(VariantOf("A", 101))),
            "steps_config[1].variants", "steps_config[1].variants[0].weight"),
        ["variant weight missing"] = new("email", b => { b.Drop("steps_config[1].variants[0].weight"); b.Set("steps_config[1].variants[1].weight", 100); },
            "steps_config[1].variants[0].weight"),
        ["variant weights sum 99"] = new("email", b => b.Set("steps_config[1].variants[0].weight", 59), "steps_config[1].variants"),
        ["variant weights sum 101"] = new("email", b => b.Set("steps_config[1].variants[0].weight", 61), "steps_config[1].variants"),
        ["6 variants"] = new("email", b => b.Set("steps_config[1].variants",
            new JsonArray(VariantOf("A", 20), VariantOf("B", 20), VariantOf("C", 20), VariantOf("D", 20), VariantOf("E", 10), VariantOf("F", 10))),
            "steps_config[1].variants"),
        ["variant type unknown"] = new("email", b => b.Set("steps_config[1].variants[1].type", "manual"), "steps_config[1].variants[1].type"),
        ["variant type missing"] = new("email", b => b.Drop("steps_config[1].variants[1].type"), "steps_config[1].variants[1].type"),
        ["template variant without template_id"] = new("email", b => b.Drop("steps_config[1].variants[0].template_id"),
            "steps_config[1].variants[0].template_id"),
        ["variant template_id not a uuid"] = new("email", b => b.Set("steps_config[1].variants[0].template_id", "tpl-1"),
            "steps_config[1].variants[0].template_id"),
        ["variant sender_profile_id not a uuid"] = new("email", b => b.Set("steps_config[1].variants[1].sender_profile_id", "me"),
            "steps_config[1].variants[1].sender_profile_id"),

        ["linkedin step in an email campaign"] = new("email", b =>
        {
            b.Set("steps_config[1]", Step("linkedin", actionType: "follow"));
            b.Set("connected_account_id", Guid.NewGuid());
        }, "steps_config[1].channel"),
        ["call step in an email campaign"] = new("email", b => b.Set("steps_config[1]", Step("call")), "steps_config[1].channel"),
        ["email step in a linkedin campaign"] = new("linkedin", b =>
        {
            b.Set("steps_config[1]", Step("email", template: "Hi"));
            b.Set("alias_ids", new JsonArray("alias-1"));
        }, "steps_config[1].channel"),
        ["email step in a voice campaign"] = new("voice", b =>
        {
            b.Set("steps_config", new JsonArray(Step("call", 0), Step("email", template: "Hi")));
            b.Set("alias_ids", new JsonArray("alias-1"));
        }, "steps_config[1].channel"),
        ["linkedin step in a voice campaign"] = new("voice", b =>
        {
            b.Set("steps_config", new JsonArray(Step("linkedin", 0, actionType: "follow")));
            b.Set("connected_account_id", Guid.NewGuid());
        }, "steps_config[0].channel"),
        ["call step in a mixed campaign"] = new("mixed", b =>
        {
            b.Set("steps_config[1]", Step("call"));
            b.Drop("connected_account_id");
        }, "steps_config[1].channel"),

        ["alias_ids missing with an email step"] = new("email", b => b.Drop("alias_ids"), "alias_ids"),
        ["alias_ids null with an email step"] = new("email", b => b.Set("alias_ids", null), "alias_ids"),
        ["alias_ids empty with an email step"] = new("email", b => b.Set("alias_ids", new JsonArray()), "alias_ids"),
        ["alias_ids 51"] = new("email", b => b.Set("alias_ids", JsonPaths.Repeat(51, i => $"alias-{i}")), "alias_ids"),
        ["alias_ids repeated"] = new("email", b => b.Set("alias_ids", new JsonArray("alias-1", "alias-2", "alias-1")), "alias_ids"),
        ["alias_ids with an empty id"] = new("email", b => b.Set("alias_ids", new JsonArray("alias-1", "")), "alias_ids[1]"),
        ["alias_ids without an email step"] = new("linkedin", b => b.Set("alias_ids", new JsonArray("alias-1")), "alias_ids"),
        ["account_limits without an email step"] = new("linkedin", b => b.Set("account_limits",
            new JsonArray(new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 10 })), "account_limits"),
        ["account_limits sender not in alias_ids"] = new("email", b => b.Set("account_limits",
            new JsonArray(new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 10 }, new JsonObject { ["account_id"] = "alias-9", ["daily_limit"] = 10 })),
            "account_limits[1].account_id"),
        ["account_limits daily_limit 0"] = new("email", b => b.Set("account_limits",
            new JsonArray(new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 0 })), "account_limits[0].daily_limit"),
        ["account_limits daily_limit 501"] = new("email", b => b.Set("account_limits",
            new JsonArray(new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 501 })), "account_limits[0].daily_limit"),
        ["account_limits daily_limit missing"] = new("email", b => b.Set("account_limits",
            new JsonArray(new JsonObject { ["account_id"] = "alias-1" })), "account_limits[0].daily_limit"),
        ["account_limits account_id missing"] = new("email", b => b.Set("account_limits",
            new JsonArray(new JsonObject { ["daily_limit"] = 5 })), "account_limits[0].account_id"),
        ["account_limits 51 entries"] = new("email", b => b.Set("account_limits",
            JsonPaths.Repeat(51, _ => new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 10 })), "account_limits"),
        ["connected_account_id missing with a linkedin step"] = new("linkedin", b => b.Drop("connected_account_id"), "connected_account_id"),
        ["connected_account_id without a linkedin step"] = new("email", b => b.Set("connected_account_id", Guid.NewGuid()), "connected_account_id"),
        ["connected_account_id not a uuid"] = new("linkedin", b => b.Set("connected_account_id", "acct-1"), "connected_account_id"),
        ["skip_other_campaigns a string"] = new("linkedin", b => b.Set("skip_other_campaigns", "yes"), "skip_other_campaigns"),

        ["signature 2001 chars"] = new("email", b => b.Set("signature", Text(2001)), "signature"),
        ["signature with an unknown placeholder"] = new("email", b => b.Set("signature", "%sender_first_name% at %company%"), "signature"),
        ["system_prompt empty"] = new("email", b => b.Set("system_prompt", ""), "system_prompt"),
        ["system_prompt 99 chars"] = new("email", b => b.Set("system_prompt", Text(99)), "system_prompt"),
        ["system_prompt 5001 chars"] = new("email", b => b.Set("system_prompt", Text(5001)), "system_prompt"),
        ["unreviewed_launch_policy unknown"] = new("email", b => b.Set("unreviewed_launch_policy", "ask"), "unreviewed_launch_policy"),
        ["webhook url ftp"] = new("email", b => b.Set("webhook_config", new JsonObject { ["url"] = "ftp://example.com/hook" }), "webhook_config.url"),
        ["webhook url relative"] = new("email", b => b.Set("webhook_config", new JsonObject { ["url"] = "/hooks/campaigns" }), "webhook_config.url"),
        ["webhook url 2049 chars"] = new("email", b => b.Set("webhook_config", new JsonObject { ["url"] = LongUrl(2049) }), "webhook_config.url"),
        ["webhook url missing"] = new("email", b => b.Set("webhook_config", new JsonObject { ["metadata"] = new JsonObject() }), "webhook_config.url"),
        ["webhook metadata over 4 KiB"] = new("email", b => b.Set("webhook_config", new JsonObject
            { ["url"] = "https://example.com/h", ["metadata"] = new JsonObject { ["k"] = Text(4089) } }), "webhook_config.metadata"),
        ["webhook metadata over 4 KiB of UTF-8"] = new("email", b => b.Set("webhook_config", new JsonObject
            { ["url"] = "https://example.com/h", ["metadata"] = new JsonObject { ["k"] = new string('ü', 2045) } }), "webhook_config.metadata"),
        ["webhook metadata not an object"] = new("email", b => b.Set("webhook_config", new JsonObject
            { ["url"] = "https://example.com/h", ["metadata"] = "crm-42" }), "webhook_config.metadata"),

        ["scheduled without start_date"] = new("email", b => b.Set("launch_type", "scheduled"), "start_date"),
        ["scheduled with a past start_date"] = new("email", b => { b.Set("launch_type", "scheduled"); b.Set("start_date", DateTimeOffset.UtcNow.AddMinutes(-1)); },
            "start_date"),
        ["start_date without an offset"] = new("email", b => b.Set("start_date", "2030-01-01T09:00:00"), "start_date"),
        ["start_date not a timestamp"] = new("email", b => b.Set("start_date", "tomorrow"), "start_date"),
        ["end_date before start_date"] = new("email", b =>
        {
            b.Set("launch_type", "scheduled");
            b.Set("start_date", Tomorrow.AddDays(1));
            b.Set("end_date", Tomorrow);
        }, "end_date"),
        ["end_date equal to start_date"] = new("email", b =>
        {
            b.Set("launch_type", "scheduled");
            b.Set("start_date", Tomorrow);
            b.Set("end_date", Tomorrow);
        }, "end_date"),

        ["voice_config on an email campaign"] = new("email", b => b.Set("voice_config", Voice(Guid.Empty)["voice_config"]), "voice_config"),
        ["voice campaign without voice_config"] = new("voice", b => b.Drop("voice_config"), "voice_config"),
        ["voice app_id missing"] = new("voice", b => b.Drop("voice_config.app_id"), "voice_config.app_id"),
        ["voice app_id empty"] = new("voice", b => b.Set("voice_config.app_id", ""), "voice_config.app_id"),
        ["voice app_version 0"] = new("voice", b => b.Set("voice_config.app_version", 0), "voice_config.app_version"),
        ["voice app_type unknown"] = new("voice", b => b.Set("voice_config.app_type", "bot"), "voice_config.app_type"),
        ["voice attempts_per_second 0.09"] = new("voice", b => b.Set("voice_config.attempts_per_second", 0.09), "voice_config.attempts_per_second"),
        ["voice attempts_per_second 500.1"] = new("voice", b => b.Set("voice_config.attempts_per_second", 500.1), "voice_config.attempts_per_second"),
        ["voice attempts_per_second missing"] = new("voice", b => b.Drop("voice_config.attempts_per_second"), "voice_config.attempts_per_second"),
        ["voice connection_configs missing"] = new("voice", b => b.Drop("voice_config.connection_configs"), "voice_config.connection_configs"),
        ["voice connection_configs empty"] = new("voice", b => b.Set("voice_config.connection_configs", new JsonArray()), "voice_config.connection_configs"),
        ["voice connection_configs 21"] = new("voice", b => b.Set("voice_config.connection_configs", JsonPaths.Repeat(21, Connection)),
            "voice_config.connection_configs"),
        ["voice connection_id missing"] = new("voice", b => b.Drop($"{Voice0}.connection_id"), $"{Voice0}.connection_id"),
        ["voice phone_numbers empty"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", new JsonArray()), $"{Voice0}.phone_numbers"),
        ["voice phone_numbers 101"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", JsonPaths.Repeat(101, Phone)), $"{Voice0}.phone_numbers"),
        ["voice phone number without +"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", new JsonArray("+14155550123", "14155550124")),
            $"{Voice0}.phone_numbers[1]"),
        ["voice phone number starting with 0"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", new JsonArray("+0415555012")), $"{Voice0}.phone_numbers[0]"),
        ["voice phone number of 16 digits"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", new JsonArray("+1415555012345678")), $"{Voice0}.phone_numbers[0]"),
        ["voice connection weight 0"] = new("voice", b => b.Set($"{Voice0}.weight", 0), $"{Voice0}.weight"),
        ["voice connection weight 101"] = new("voice", b => b.Set($"{Voice0}.weight", 101), $"{Voice0}.weight"),
        ["voice max_retries 11"] = new("voice", b => b.Set("voice_config.retry_config.max_retries", 11), "voice_config.retry_config.max_retries"),
        ["voice max_retries -1"] = new("voice", b =>
        {
            b.Set("voice_config.retry_config.max_retries", -1);
            b.Drop("voice_config.retry_config.retry_interval_minutes");
        }, "voice_config.retry_config.max_retries"),
        ["voice retry interval 0"] = new("voice", b => b.Set("voice_config.retry_config.retry_interval_minutes", new JsonArray(0, 120)),
            "voice_config.retry_config.retry_interval_minutes[0]"),
        ["voice retry interval 1441"] = new("voice", b => b.Set("voice_config.retry_config.retry_interval_minutes", new JsonArray(30, 1441)),
            "voice_config.retry_config.retry_interval_minutes[1]"),
        ["voice more retry intervals than max_retries"] = new("voice", b => b.Set("voice_config.retry_config.retry_interval_minutes", new JsonArray(30, 60, 90)),
            "voice_config.retry_config.retry_interval_minutes"),
        ["voice short_duration threshold 0"] = new("voice", b => b.Set($"{RetryOn}.short_duration.threshold_seconds", 0),
            $"{RetryOn}.short_duration.threshold_seconds"),
        ["voice short_duration threshold 601"] = new("voice", b => b.Set($"{RetryOn}.short_duration.threshold_seconds", 601),
            $"{RetryOn}.short_duration.threshold_seconds"),
        ["voice short_duration enabled without threshold"] = new("voice", b => b.Drop($"{RetryOn}.short_duration.threshold_seconds"),
            $"{RetryOn}.short_duration.threshold_seconds"),
        ["voice short_duration disabled with threshold 601"] = new("voice", b => b.Set($"{RetryOn}.short_duration",
            new JsonObject { ["enabled"] = false, ["threshold_seconds"] = 601 }), $"{RetryOn}.short_duration.threshold_seconds"),
        ["voice phone_numbers missing"] = new("voice", b => b.Drop($"{Voice0}.phone_numbers"), $"{Voice0}.phone_numbers"),
        ["voice provider_error max_retries 11"] = new("voice", b => b.Set($"{RetryOn}.provider_error.max_retries", 11),
            $"{RetryOn}.provider_error.max_retries"),
        ["voice provider_error retry_interval 0"] = new("voice", b => b.Set($"{RetryOn}.provider_error.retry_interval_minutes", 0),
            $"{RetryOn}.provider_error.retry_interval_minutes"),
        ["voice internal_error retry_interval 1441"] = new("voice", b => b.Set($"{RetryOn}.internal_error",
            new JsonObject { ["enabled"] = true, ["max_retries"] = 1, ["retry_interval_minutes"] = 1441 }), $"{RetryOn}.internal_error.retry_interval_minutes"),
        ["voice internal_error max_retries -1"] = new("voice", b => b.Set($"{RetryOn}.internal_error",
            new JsonObject { ["enabled"] = true, ["max_retries"] = -1, ["retry_interval_minutes"] = 5 }), $"{RetryOn}.internal_error.max_retries"),
        ["voice retry_on unknown outcome"] = new("voice", b => b.Set($"{RetryOn}.voicemail", new JsonObject { ["enabled"] = true }), $"{RetryOn}.voicemail"),
    };

    /// <summary>Values just inside each range, optional parts left out, and cross-field rules satisfied: 201.</summary>
    private static readonly Dictionary<string, Case> Accepted = new()
    {
        ["name 1 char"] = new("email", b => b.Set("name", "x")),
        ["name 255 chars"] = new("email", b => b.Set("name", Text(255))),
        ["description 1000 chars"] = new("email", b => b.Set("description", Text(1000))),
        ["description null"] = new("email", b => b.Set("description", null)),
        ["daily_limit 1"] = new("email", b => b.Set("daily_limit", 1)),
        ["daily_limit 10000"] = new("email", b => b.Set("daily_limit", 10000)),
        ["sending window 00:00 to 23:59"] = new("email", b => { b.Set("sending_window_start", "00:00"); b.Set("sending_window_end", "23:59"); }),
        ["sending window past midnight"] = new("email", b => { b.Set("sending_window_start", "22:00"); b.Set("sending_window_end", "06:00"); }),
        ["min_interval_seconds 60"] = new("email", b => b.Set("min_interval_seconds", 60)),
        ["min_interval_seconds 3600"] = new("email", b => b.Set("min_interval_seconds", 3600)),
        ["timezone Europe/Berlin"] = new("email", b => b.Set("timezone", "Europe/Berlin")),
        ["timezone America/Argentina/Buenos_Aires"] = new("email", b => b.Set("timezone", "America/Argentina/Buenos_Aires")),
        ["send_days all seven"] = new("email", b => b.Set("send_days", new JsonArray("mon", "tue", "wed", "thu", "fri", "sat", "sun"))),
        ["send_days one"] = new("email", b => b.Set("send_days", new JsonArray("sun"))),
        ["blackout_dates 366"] = new("email", b => b.Set("blackout_dates", Dates(366))),
        ["operating_hours touching windows"] = new("email", b => b.Set("operating_hours", new JsonObject
            { ["mon"] = Days(Window("09:00", "12:00"), Window("12:00", "13:00")), ["sat"] = Days(Window("00:00", "23:59")) })),
        ["operating_hours no days"] = new("email", b => b.Set("operating_hours", new JsonObject())),
        ["steps_config 10 steps"] = new("email", b => b.Set("steps_config", JsonPaths.Repeat(10, i => Step("email", i == 0 ? 0 : 1, template: "Hi")))),
        ["steps_config one step"] = new("email", b => b.Set("steps_config", new JsonArray(Step("email", 0, template: "Hi")))),
        ["step delay exactly 30 days"] = new("email", b => b.Set("steps_config[1].delay_days", 30)),
        ["step delay 720 hours"] = new("email", b => { b.Set("steps_config[1].delay_days", 0); b.Set("steps_config[1].delay_hours", 720); }),
        ["later step delay 1 minute"] = new("email", b => { b.Set("steps_config[1].delay_days", 0); b.Set("steps_config[1].delay_minutes", 1); }),
        ["first step delay 30 days"] = new("email", b => b.Set("steps_config[0].delay_days", 30)),
        ["step number sent is ignored"] = new("email", b => b.Set("steps_config[0].step", 7)),
        ["message_template 10000 chars"] = new("email", b => b.Set("steps_config[0].message_template", Text(10000))),
        ["placeholder of a custom dataset column"] = new("email", b => b.Set("steps_config[0].message_template", $"Love {{{{ {CustomColumn} }}}}, {{{{company}}}}")),
        ["variant label 50 chars"] = new("email", b => b.Set("steps_config[1].variants[0].label", Text(50))),
        ["variant weights 1 and 99"] = new("email", b => { b.Set("steps_config[1].variants[0].weight", 1); b.Set("steps_config[1].variants[1].weight", 99); }),
        ["one variant weight 100"] = new("email", b => b.Set("steps_config[1].variants", new JsonArray(VariantOf("only", 100)))),
        ["5 variants"] = new("email", b => b.Set("steps_config[1].variants",
            new JsonArray(VariantOf("A", 20), VariantOf("B", 20), VariantOf("C", 20), VariantOf("D", 20), VariantOf("E", 20)))),
        ["linkedin actions without template"] = new("linkedin", b => b.Set("steps_config", new JsonArray(
            Step("linkedin", 0, "profile_visit"), Step("linkedin", actionType: "follow"), Step("linkedin", actionType: "connection_request")))),
        ["inmail with template"] = new("linkedin", b => b.Set("steps_config[1].action_type", "inmail")),
        ["mixed with email and linkedin steps"] = new("mixed", _ => { }),
        ["mixed with only email steps"] = new("mixed", b => { b.Set("steps_config[1]", Step("email", template: "Hi")); b.Drop("connected_account_id"); }),
        ["mixed with only linkedin steps"] = new("mixed", b => { b.Set("steps_config[0]", Step("linkedin", 0, "follow")); b.Drop("alias_ids"); }),
        ["alias_ids 50"] = new("email", b => b.Set("alias_ids", JsonPaths.Repeat(50, i => $"alias-{i}"))),
        ["alias_ids null without an email step"] = new("linkedin", b => b.Set("alias_ids", null)),
        ["alias_ids empty without an email step"] = new("linkedin", b => b.Set("alias_ids", new JsonArray())),
        ["account_limits 1 and 500"] = new("email", b => b.Set("account_limits", new JsonArray(
            new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 1 }, new JsonObject { ["account_id"] = "alias-2", ["daily_limit"] = 500 }))),
        ["account_limits 50 entries"] = new("email", b =>
        {
            b.Set("alias_ids", JsonPaths.Repeat(50, i => $"alias-{i}"));
            b.Set("account_limits", JsonPaths.Repeat(50, i => new JsonObject { ["account_id"] = $"alias-{i}", ["daily_limit"] = 10 }));
        }),
        ["account_limits empty without an email step"] = new("linkedin", b => b.Set("account_limits", new JsonArray())),
        ["signature 2000 chars"] = new("email", b => b.Set("signature", Text(2000))),
        ["signature with every placeholder"] = new("email", b => b.Set("signature", "%first_name%, %sender_first_name% %sender_last_name% <%sender_email%>")),
        ["system_prompt 100 chars"] = new("email", b => b.Set("system_prompt", Text(100))),
        ["system_prompt 5000 chars"] = new("email", b => b.Set("system_prompt", Text(5000))),
        ["system_prompt null"] = new("email", b => b.Set("system_prompt", null)),
        ["unreviewed_launch_policy hold"] = new("email", b => b.Set("unreviewed_launch_policy", "hold")),
        ["webhook http url of 2048 chars"] = new("email", b => b.Set("webhook_config", new JsonObject { ["url"] = LongUrl(2048) })),
        ["webhook metadata exactly 4 KiB"] = new("email", b => b.Set("webhook_config", new JsonObject
            { ["url"] = "https://example.com/h", ["metadata"] = new JsonObject { ["k"] = Text(4088) } })),
        ["webhook metadata exactly 4 KiB of UTF-8"] = new("email", b => b.Set("webhook_config", new JsonObject
            { ["url"] = "https://example.com/h", ["metadata"] = new JsonObject { ["k"] = new string('ü', 2044) } })),
        ["webhook metadata nested"] = new("email", b => b.Set("webhook_config", new JsonObject
            { ["url"] = "https://example.com/h", ["metadata"] = new JsonObject { ["crm"] = new JsonObject { ["ids"] = new JsonArray(1, 2) } } })),
        ["scheduled in the future"] = new("email", b => { b.Set("launch_type", "scheduled"); b.Set("start_date", Tomorrow); }),
        ["start_date with an offset"] = new("email", b => { b.Set("launch_type", "scheduled"); b.Set("start_date", Tomorrow.ToOffset(TimeSpan.FromHours(2)).ToString("O")); }),
        ["immediate with a past start_date"] = new("email", b => b.Set("start_date", DateTimeOffset.UtcNow.AddDays(-1))),
        ["end_date after start_date"] = new("email", b => { b.Set("launch_type", "scheduled"); b.Set("start_date", Tomorrow); b.Set("end_date", Tomorrow.AddMinutes(1)); }),
        ["end_date alone"] = new("email", b => b.Set("end_date", Tomorrow)),
        ["personalization_reviewed_at set"] = new("email", b => b.Set("personalization_reviewed_at", DateTimeOffset.UtcNow)),
        ["voice minimal config"] = new("voice", b => b.Set("voice_config", new JsonObject
            { ["app_id"] = "a", ["attempts_per_second"] = 1, ["connection_configs"] = new JsonArray(Connection(0)) })),
        ["voice app_version 1 workflow"] = new("voice", b => { b.Set("voice_config.app_version", 1); b.Set("voice_config.app_type", "workflow"); }),
        ["voice attempts_per_second 0.1"] = new("voice", b => b.Set("voice_config.attempts_per_second", 0.1)),
        ["voice attempts_per_second 500"] = new("voice", b => b.Set("voice_config.attempts_per_second", 500)),
        ["voice connection_configs 20"] = new("voice", b => b.Set("voice_config.connection_configs", JsonPaths.Repeat(20, Connection))),
        ["voice phone_numbers 100"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", JsonPaths.Repeat(100, Phone))),
        ["voice phone number of 15 digits"] = new("voice", b => b.Set($"{Voice0}.phone_numbers", new JsonArray("+141555501234567"))),
        ["voice connection weight 1"] = new("voice", b => b.Set($"{Voice0}.weight", 1)),
        ["voice max_retries 0 without intervals"] = new("voice", b =>
        {
            b.Set("voice_config.retry_config.max_retries", 0);
            b.Drop("voice_config.retry_config.retry_interval_minutes");
        }),
        ["voice max_retries 10 and intervals 1 and 1440"] = new("voice", b =>
        {
            b.Set("voice_config.retry_config.max_retries", 10);
            b.Set("voice_config.retry_config.retry_interval_minutes", new JsonArray(1, 1440));
        }),
        ["voice thresholds 1 and limits at their ends"] = new("voice", b =>
        {
            b.Set($"{RetryOn}.short_duration.threshold_seconds", 1);
            b.Set($"{RetryOn}.provider_error", new JsonObject { ["enabled"] = true, ["max_retries"] = 0, ["retry_interval_minutes"] = 1 });
            b.Set($"{RetryOn}.internal_error", new JsonObject { ["enabled"] = true, ["max_retries"] = 10, ["retry_interval_minutes"] = 1440 });
        }),
        ["voice threshold 600"] = new("voice", b => b.Set($"{RetryOn}.short_duration.threshold_seconds", 600)),
        ["voice short_duration disabled without threshold"] = new("voice", b => b.Set($"{RetryOn}.short_duration", new JsonObject { ["enabled"] = false })),
        ["voice every outcome toggled"] = new("voice", b =>
        {
            b.Set($"{RetryOn}.failed", new JsonObject { ["enabled"] = false });
            b.Set($"{RetryOn}.no_answer", new JsonObject { ["enabled"] = true });
        }),
        ["voice without retry_config"] = new("voice", b => b.Drop("voice_config.retry_config")),
    };

    private static JsonArray Dates(int count) =>
        new([.. Enumerable.Range(0, count).Select(day => (JsonNode)new DateOnly(2027, 1, 1).AddDays(day).ToString("yyyy-MM-dd"))]);

    public static TheoryData<string> RejectedCases => new(Rejected.Keys.ToArray());

    public static TheoryData<string> AcceptedCases => new(Accepted.Keys.ToArray());

    private static JsonNode Connection(int index) => new JsonObject
    {
        ["connection_id"] = $"trunk-{index}", ["phone_numbers"] = new JsonArray(Phone(index)), ["weight"] = 5,
    };

    private static JsonNode Phone(int index) => $"+1415555{index:D4}";

    private static string LongUrl(int length) => "https://example.com/" + Text(length - "https://example.com/".Length);

    private static JsonObject Mixed(Guid datasetId) => new()
    {
        ["dataset_id"] = datasetId,
        ["name"] = "Mixed touch",
        ["type"] = "mixed",
        ["alias_ids"] = new JsonArray("alias-1"),
        ["connected_account_id"] = Guid.NewGuid(),
        ["steps_config"] = new JsonArray(Step("email", 0, template: "Hello {{first_name}}"), Step("linkedin", actionType: "connection_request")),
    };

    private async Task<JsonObject> BodyAsync(Case @case)
    {
        var dataset = await SeedDatasetAsync(api, _user, CustomColumn);
        var body = @case.Kind switch
        {
            "email" => Email(dataset),
            "linkedin" => Linkedin(dataset),
            "voice" => Voice(dataset),
            "mixed" => Mixed(dataset),
            _ => throw new ArgumentException(@case.Kind),
        };
        @case.Edit(body);
        return body;
    }

    [Theory]
    [MemberData(nameof(RejectedCases))]
    public async Task Rejects_with_the_json_path_of_each_bad_value(string name)
    {
        var @case = Rejected[name];
        var client = api.ClientFor(_user);
        var body = await BodyAsync(@case);

        var (status, problem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", body);

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal(@case.Errors.Order().ToArray(), ErrorKeys(problem));
        Assert.All(problem["errors"]!.AsObject(), e => Assert.NotEmpty(e.Value!.AsArray()));
        await AssertNoCampaignOfAsync(_user);
    }

    [Theory]
    [MemberData(nameof(AcceptedCases))]
    public async Task Accepts_values_just_inside_each_bound(string name)
    {
        var client = api.ClientFor(_user);
        var body = await BodyAsync(Accepted[name]);

        var (status, created) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", body);

        Assert.True(status == 201, created.ToJsonString());
        Assert.Equal("draft", (string?)created["status"]);
    }

    [Fact]
    public async Task Reports_every_error_of_a_body_at_once()
    {
        var client = api.ClientFor(_user);
        var body = await BodyAsync(new Case("email", b =>
        {
            b.Set("name", " ");
            b.Set("daily_limit", 0);
            b.Set("timezone", "Europe/Atlantis");
            b.Set("steps_config[1].delay_days", 0);
            b.Set("steps_config[1].variants[0].weight", 59);
            b.Set("connected_account_id", Guid.NewGuid());
        }));

        var response = await client.PostAsync("/api/v1/campaigns", JsonBody(body.ToJsonString()), TestContext.Current.CancellationToken);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await Snapshot.MatchAsync(response, "validation-problem");
    }

    [Fact]
    public async Task Another_users_dataset_is_answered_as_a_missing_one()
    {
        var owner = Guid.NewGuid();
        var othersDataset = await SeedDatasetAsync(api, owner);
        var client = api.ClientFor(_user);

        var (status, problem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", Email(othersDataset));
        var (missingStatus, missingProblem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", Email(Guid.NewGuid()));

        Assert.Equal(400, status);
        Assert.Equal(["dataset_id"], ErrorKeys(problem));
        Assert.Equal(missingStatus, status);
        Assert.Equal(missingProblem["errors"]!.ToJsonString(), problem["errors"]!.ToJsonString());
        Assert.Equal(201, (await SendAsync(api.ClientFor(owner), HttpMethod.Post, "/api/v1/campaigns", Email(othersDataset))).Status);
    }

    [Theory]
    [InlineData("campaign_id", "\"0193a5c4-0000-7000-8000-000000000001\"")]
    [InlineData("user_id", "\"0193a5c4-0000-7000-8000-000000000001\"")]
    [InlineData("status", "\"active\"")]
    [InlineData("paused_reason", "\"user_requested\"")]
    [InlineData("total_leads", "5")]
    [InlineData("processed_leads", "0")]
    [InlineData("launch_job_id", "\"job-1\"")]
    [InlineData("launch_requested_at", "\"2030-01-01T00:00:00Z\"")]
    [InlineData("launched_at", "null")]
    [InlineData("launch_error", "null")]
    [InlineData("created_at", "\"2030-01-01T00:00:00Z\"")]
    [InlineData("updated_at", "\"2030-01-01T00:00:00Z\"")]
    [InlineData("version", "1")]
    [InlineData("colour", "\"blue\"")]
    [InlineData("steps_config[0].colour", "\"blue\"")]
    [InlineData("steps_config[1].variants[0].colour", "\"blue\"")]
    [InlineData("voice_config.retry_config.colour", "\"blue\"")]
    [InlineData("operating_hours.mon[0].colour", "\"blue\"")]
    [InlineData("account_limits[0].colour", "\"blue\"")]
    [InlineData("webhook_config.colour", "\"blue\"")]
    public async Task Rejects_read_only_and_unknown_fields_by_their_path(string path, string json)
    {
        var client = api.ClientFor(_user);
        var body = await BodyAsync(new Case(path.StartsWith("voice_config", StringComparison.Ordinal) ? "voice" : "email", b =>
        {
            b.Set("operating_hours", new JsonObject { ["mon"] = Days(Window("09:00", "12:00")) });
            b.Set("account_limits", new JsonArray(new JsonObject { ["account_id"] = "alias-1", ["daily_limit"] = 5 }));
            b.Set("webhook_config", new JsonObject { ["url"] = "https://example.com/h" });
        }));
        body.Set(path, JsonNode.Parse(json));

        var (status, problem) = await SendAsync(client, HttpMethod.Post, "/api/v1/campaigns", body);

        Assert.True(status == 400, problem.ToJsonString());
        Assert.Equal([path], ErrorKeys(problem));
        await AssertNoCampaignOfAsync(_user);
    }

    [Theory]
    [InlineData("""{"name":"a","name":"b"}""", "name")]
    [InlineData("""{"name":"a","steps_config":[{"channel":"email","channel":"email"}]}""", "steps_config[0].channel")]
    [InlineData("""{"name":"a",""", "$")]
    [InlineData("""[1,2]""", "$")]
    [InlineData("""{"name":"a"} trailing""", "$")]
    public async Task Rejects_malformed_json(string json, string errorKey)
    {
        var client = api.ClientFor(_user);

        var response = await client.PostAsync("/api/v1/campaigns", JsonBody(json), TestContext.Current.CancellationToken);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!.AsObject();

        Assert.True((int)response.StatusCode == 400, problem.ToJsonString());
        Assert.Equal([errorKey], ErrorKeys(problem));
    }

    [Fact]
    public async Task Rejects_a_body_that_is_not_json()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user)).ToJsonString();

        var response = await client.PostAsync("/api/v1/campaigns", new StringContent(body, Encoding.UTF8, "text/plain"), TestContext.Current.CancellationToken);

        Assert.Equal(415, (int)response.StatusCode);
        await AssertNoCampaignOfAsync(_user);
    }

    [Fact]
    public async Task Rejects_a_body_over_1_MiB()
    {
        var client = api.ClientFor(_user);
        var body = Email(await SeedDatasetAsync(api, _user)).With("description", Text(1024 * 1024));
        // Expect: 100-continue, so the 413 arrives before the upload and the server's close cannot break it.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/campaigns") { Content = JsonBody(body.ToJsonString()) };
        request.Headers.ExpectContinue = true;

        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertNoCampaignOfAsync(_user);
    }

    private static StringContent JsonBody(string json) => new(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    private async Task AssertNoCampaignOfAsync(Guid user)
    {
        var (status, list) = await SendAsync(api.ClientFor(user), HttpMethod.Get, "/api/v1/campaigns");
        Assert.Equal(200, status);
        Assert.Empty(list["items"]!.AsArray());
    }
}
