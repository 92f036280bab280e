// The worker's command line. Ranges follow the lease request's own rules, so a bad value is told here rather than by a 400.
using System.Globalization;

namespace CampaignSlices.Worker;

public sealed record SmtpServer(string Host, int Port);

/// <summary>One outcome of a simulated mix and its weight.</summary>
public sealed record SimulatedShare(string Outcome, int Weight);

/// <summary>How long a simulated answered call lasts: from <paramref name="Min"/> to <paramref name="Max"/> whole seconds.</summary>
public sealed record CallSeconds(int Min, int Max);

public sealed record WorkerOptions
{
    public const string TokenVariable = "CAMPAIGN_WORKER_TOKEN";

    public const string Usage = """
        usage: CampaignSlices.Worker --api URL [--token TOKEN] [--channel email|linkedin|call] [--max 50] [--lease-seconds 300]
                                     [--smtp HOST:PORT] [--from-domain example.com] [--simulate "sent=90,bounced=5,failed=5"]
                                     [--call-seconds 30-180] [--rate ACTIONS_PER_SECOND] [--until-idle SECONDS]
          --token           a worker token (the service's `token --worker NAME`); otherwise read from CAMPAIGN_WORKER_TOKEN
          --smtp            send email leases through this SMTP server; without it (and always for call) outcomes are simulated
          --from-domain     mail goes out from <alias_id>@<domain> (default example.com)
          --simulate        the simulated outcomes' weights (default sent=1, for call completed=1); outcomes sent, skipped,
                            bounced (email), failed; for call completed, busy, no_answer, short_duration, failed,
                            provider_error, internal_error
          --call-seconds    a simulated completed call lasts from MIN to MAX seconds, drawn per call (default 30-180)
          --rate            perform at most this many actions per second
          --until-idle      exit after this many seconds in which nothing was leased
        """;

    public required Uri Api { get; init; }
    public required string Token { get; init; }
    public string Channel { get; init; } = "email";
    public int Max { get; init; } = 50;
    public int LeaseSeconds { get; init; } = 300;
    public SmtpServer? Smtp { get; init; }
    public string FromDomain { get; init; } = "example.com";
    public IReadOnlyList<SimulatedShare> Simulate { get; init; } = [new("sent", 1)];

    /// <summary>Set for <c>--channel call</c> only: the range a simulated answered call's duration is drawn from.</summary>
    public CallSeconds? CallSeconds { get; init; }

    public double? Rate { get; init; }
    public int? UntilIdleSeconds { get; init; }

    /// <summary>The options, or what is wrong with the command line.</summary>
    public static (WorkerOptions? Options, string? Error) Parse(IReadOnlyList<string> args, string? tokenFromEnvironment)
    {
        var values = new Dictionary<string, string>();
        for (var i = 0; i < args.Count; i++)
        {
            if (!Known.Contains(args[i]))
                return (null, $"unknown argument {args[i]}");
            if (i + 1 == args.Count)
                return (null, $"{args[i]} needs a value");
            values[args[i]] = args[++i];
        }
        try
        {
            return (Build(values, tokenFromEnvironment), null);
        }
        catch (FormatException wrong)
        {
            return (null, wrong.Message);
        }
    }

    private static readonly HashSet<string> Known =
    [
        "--api", "--token", "--channel", "--max", "--lease-seconds", "--smtp", "--from-domain", "--simulate", "--call-seconds", "--rate",
        "--until-idle",
    ];

    private static readonly string[] EmailOutcomes = ["sent", "skipped", "bounced", "failed"];
    private static readonly string[] LinkedinOutcomes = ["sent", "skipped", "failed"];
    private static readonly string[] CallOutcomes =
        ["completed", "busy", "no_answer", "short_duration", "failed", "provider_error", "internal_error"];

    /// <summary>The longest duration_seconds the service takes.</summary>
    private const int MaxCallSeconds = 86_400;

    private static WorkerOptions Build(Dictionary<string, string> values, string? tokenFromEnvironment)
    {
        var api = values.GetValueOrDefault("--api") ?? throw new FormatException("--api is required");
        if (!Uri.TryCreate(api.EndsWith('/') ? api : api + "/", UriKind.Absolute, out var apiUri) || apiUri.Scheme is not ("http" or "https"))
            throw new FormatException("--api must be an http or https URL");
        var token = values.GetValueOrDefault("--token") ?? tokenFromEnvironment;
        if (string.IsNullOrWhiteSpace(token))
            throw new FormatException($"a worker token is required: --token or {TokenVariable}");
        var channel = values.GetValueOrDefault("--channel", "email");
        var (outcomes, fallbackMix) = channel switch
        {
            "email" => (EmailOutcomes, new SimulatedShare("sent", 1)),
            "linkedin" => (LinkedinOutcomes, new SimulatedShare("sent", 1)),
            "call" => (CallOutcomes, new SimulatedShare("completed", 1)),
            _ => throw new FormatException("--channel is email, linkedin or call"),
        };
        var smtp = values.TryGetValue("--smtp", out var server) ? ParseServer(server) : null;
        if (smtp is not null && channel == "call")
            throw new FormatException("--smtp sends email: calls can only be simulated (--simulate with --channel call)");
        if (smtp is not null && channel != "email")
            throw new FormatException("--smtp sends email: it needs --channel email");
        if (smtp is not null && values.ContainsKey("--simulate"))
            throw new FormatException("--smtp and --simulate exclude each other");
        var fromDomain = values.GetValueOrDefault("--from-domain", "example.com");
        if (fromDomain.Length == 0 || fromDomain.Any(c => char.IsWhiteSpace(c) || c is '@' or '<' or '>'))
            throw new FormatException("--from-domain must be a domain name");
        if (values.ContainsKey("--call-seconds") && channel != "call")
            throw new FormatException("--call-seconds is the length of simulated calls: it needs --channel call");
        return new WorkerOptions
        {
            Api = apiUri,
            Token = token.Trim(),
            Channel = channel,
            Max = Integer(values, "--max", 50, 1, 500),
            LeaseSeconds = Integer(values, "--lease-seconds", 300, 10, 3600),
            Smtp = smtp,
            FromDomain = fromDomain,
            Simulate = values.TryGetValue("--simulate", out var mix) ? ParseMix(mix, outcomes) : [fallbackMix],
            CallSeconds = channel == "call" ? ParseCallSeconds(values.GetValueOrDefault("--call-seconds", "30-180")) : null,
            Rate = values.TryGetValue("--rate", out var rate) ? ParseRate(rate) : null,
            UntilIdleSeconds = values.ContainsKey("--until-idle") ? Integer(values, "--until-idle", 0, 0, int.MaxValue) : null,
        };
    }

    private static int Integer(Dictionary<string, string> values, string name, int fallback, int min, int max)
    {
        if (!values.TryGetValue(name, out var text))
            return fallback;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new FormatException($"{name} must be a whole number from {min} to {max}");
        return value;
    }

    private static SmtpServer ParseServer(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FormatException("--smtp is HOST:PORT");
        return new SmtpServer(text[..colon].Trim('[', ']'), port);
    }

    private static List<SimulatedShare> ParseMix(string text, string[] outcomes)
    {
        var shares = new List<SimulatedShare>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var pair = part.Split('=', StringSplitOptions.TrimEntries);
            if (pair.Length != 2 || !outcomes.Contains(pair[0]) || shares.Any(share => share.Outcome == pair[0])
                || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var weight))
                throw new FormatException($"--simulate is a list of outcome=weight of {string.Join(", ", outcomes)}, each at most once");
            shares.Add(new SimulatedShare(pair[0], weight));
        }
        if (shares.Sum(share => (long)share.Weight) == 0)
            throw new FormatException("--simulate needs a weight above 0");
        return shares;
    }

    private static CallSeconds ParseCallSeconds(string text)
    {
        var bounds = text.Split('-', StringSplitOptions.TrimEntries);
        if (bounds.Length != 2
            || !int.TryParse(bounds[0], NumberStyles.None, CultureInfo.InvariantCulture, out var min)
            || !int.TryParse(bounds[1], NumberStyles.None, CultureInfo.InvariantCulture, out var max)
            || min > max || max > MaxCallSeconds)
            throw new FormatException($"--call-seconds is MIN-MAX, whole seconds with MIN at most MAX and MAX at most {MaxCallSeconds}");
        return new CallSeconds(min, max);
    }

    private static double ParseRate(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0 && double.IsFinite(rate)
            ? rate
            : throw new FormatException("--rate must be a number of actions per second above 0");
}
