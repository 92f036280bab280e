using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// Bearer JWTs (HS256). A user's token has the user's UUID as `sub`; a channel worker's token has the
/// `dispatch` scope (`scope` claim, space-separated) and any non-empty `sub`, the worker's name.
/// </summary>
public static class Auth
{
    public const string Scheme = JwtBearerDefaults.AuthenticationScheme;
    public const int MinimumKeyBytes = 32;
    private const string SigningKeySetting = "Auth:SigningKey";
    private const string DefaultIssuer = "campaign-slices";
    private const string DefaultAudience = "campaign-slices";
    public const string DispatchScope = "dispatch";
    public const string DispatchPolicy = "dispatch";
    private const string ScopeClaim = "scope";
    private const string KeyRingPreload = "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService";

    public sealed record Settings(SymmetricSecurityKey Key, string Issuer, string Audience);

    public static void AddAuth(this WebApplicationBuilder builder)
    {
        var settings = ReadSettings(builder.Configuration, builder.Environment);
        builder.Services.AddAuthentication(Scheme).AddJwtBearer(Scheme, options =>
        {
            options.TokenHandlers.Clear();
            options.TokenHandlers.Add(new RememberingTokenHandler());
            options.MapInboundClaims = false;
            // The 401 does not say which check failed; the handler logs it (at Information).
            options.IncludeErrorDetails = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = settings.Issuer,
                ValidAudience = settings.Audience,
                IssuerSigningKey = settings.Key,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            options.Events = new JwtBearerEvents
            {
                OnTokenValidated = context =>
                {
                    var principal = context.Principal;
                    if (principal is null || !IsUser(principal) && !(HasDispatchScope(principal) && !string.IsNullOrWhiteSpace(Subject(principal))))
                        context.Fail("The token's sub must be a user UUID, or the token must carry the dispatch scope.");
                    return Task.CompletedTask;
                },
                // A caller who sent credentials learns they were not accepted; one who sent none only that a token is needed.
                OnChallenge = context =>
                {
                    if (context.Request.Headers.Authorization.Count > 0)
                        context.Error = "invalid_token";
                    return Task.CompletedTask;
                },
            };
        });
        // AddAuthentication also registers Data Protection (for cookie and remote sign-in handlers), whose hosted
        // service makes a key ring at start-up: files under ~/.aspnet and, in a container, a warning that they
        // will not outlive it. Bearer tokens never use it; the webhook secrets do, and KeyRing loads their key ring from
        // PostgreSQL at start-up instead (dotnet/aspnetcore#47410).
        if (builder.Services.FirstOrDefault(service => service.ImplementationType?.FullName == KeyRingPreload) is { } preload)
            builder.Services.Remove(preload);
        // Every route needs a user's token unless it allows anonymous callers. A route group for other
        // callers (workers) names its own policy with RequireAuthorization, which replaces this fallback.
        // A worker's token (no user UUID) on a user's route is authenticated but not allowed: 403.
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().RequireAssertion(context => IsUser(context.User)).Build())
            .AddPolicy(DispatchPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser()
                .RequireAssertion(context => HasDispatchScope(context.User)));
    }

    /// <summary>
    /// Auth:SigningKey from configuration; in Development, when none is given, a random key made once
    /// and kept in the local data folder. Anywhere else a missing or short key stops start-up.
    /// </summary>
    public static Settings ReadSettings(IConfiguration configuration, IHostEnvironment environment)
    {
        var configured = configuration[SigningKeySetting];
        byte[] key;
        if (!string.IsNullOrEmpty(configured))
            key = Encoding.UTF8.GetBytes(configured);
        else if (environment.IsDevelopment())
            key = Encoding.UTF8.GetBytes(LocalData.Secret(configuration, environment, "signing-key"));
        else
            throw new ConfigurationException(
                $"{SigningKeySetting} is not set. Give the service an HS256 signing key of at least {MinimumKeyBytes} bytes "
                + $"(e.g. the {ConfigurationException.EnvironmentVariable(SigningKeySetting)} environment variable).");
        if (key.Length < MinimumKeyBytes)
            throw new ConfigurationException(
                $"{SigningKeySetting} is {key.Length} bytes long; it must be at least {MinimumKeyBytes} bytes (UTF-8) "
                + $"(e.g. the {ConfigurationException.EnvironmentVariable(SigningKeySetting)} environment variable).");
        return new Settings(new SymmetricSecurityKey(key),
            configuration["Auth:Issuer"] ?? DefaultIssuer, configuration["Auth:Audience"] ?? DefaultAudience);
    }

    public static string IssueToken(Settings settings, Guid userId, TimeSpan lifetime, DateTime? now = null) =>
        IssueToken(settings, new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = userId.ToString() }, lifetime, now);

    /// <summary>A channel worker's token: `sub` names the worker, `scope` is `dispatch`.</summary>
    public static string IssueWorkerToken(Settings settings, string worker, TimeSpan lifetime, DateTime? now = null) =>
        IssueToken(settings, new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = worker, [ScopeClaim] = DispatchScope }, lifetime, now);

    private static string IssueToken(Settings settings, Dictionary<string, object> claims, TimeSpan lifetime, DateTime? now)
    {
        var issuedAt = now ?? DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            Claims = claims,
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + lifetime,
            SigningCredentials = new SigningCredentials(settings.Key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The authenticated caller's user id; only tokens whose sub is a UUID get this far.</summary>
    public static Guid UserId(this ClaimsPrincipal user) => Guid.Parse(Subject(user)!);

    /// <summary>
    /// The caller as a UUID, for what is kept per caller (idempotency keys): a user's id; for a channel worker,
    /// whose sub is a name, a UUID made from that name.
    /// </summary>
    public static Guid CallerId(this ClaimsPrincipal caller) =>
        IsUser(caller) ? caller.UserId() : new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"worker:{Subject(caller)}")).AsSpan(0, 16));

    /// <summary>The worker a dispatch token names (its sub).</summary>
    public static string WorkerName(this ClaimsPrincipal worker) => Subject(worker)!;

    private static string? Subject(ClaimsPrincipal principal) => principal.FindFirstValue(JwtRegisteredClaimNames.Sub);

    private static bool IsUser(ClaimsPrincipal principal) => Guid.TryParse(Subject(principal), out _);

    /// <summary>Scopes as OAuth writes them: one claim, space-separated (some issuers send one claim per scope).</summary>
    private static bool HasDispatchScope(ClaimsPrincipal principal) =>
        principal.FindAll(ScopeClaim).Any(claim => claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(DispatchScope));

    private const string TokenUsage = """
        usage: token --user <uuid> [--hours N] [--Setting:Name=value ...]
               token --worker <name> [--hours N] [--Setting:Name=value ...]
        Prints one line: a bearer token for the user, or for a channel worker (the dispatch scope), valid N hours (default 24).
        It is signed with Auth:SigningKey (the Auth__SigningKey environment variable) when that is set, else, in
        Development, with the key the service generated in its local data folder (LocalData:Folder, default .data).
        The environment is Development unless ASPNETCORE_ENVIRONMENT or DOTNET_ENVIRONMENT says otherwise.
        """;

    /// <summary>`token --user UUID | --worker NAME [--hours N]`: prints a token for local use, and nothing else on standard output.</summary>
    public static int RunTokenCommand(string[] args)
    {
        var hoursArgument = ArgumentAfter(args, "--hours");
        var hours = 24;
        var worker = ArgumentAfter(args, "--worker");
        var userId = Guid.Empty;
        if ((string.IsNullOrWhiteSpace(worker) && !Guid.TryParse(ArgumentAfter(args, "--user"), out userId))
            || hoursArgument is not null && (!int.TryParse(hoursArgument, out hours) || hours < 1))
        {
            Console.Error.WriteLine(TokenUsage);
            return 2;
        }
        // `dotnet run --no-launch-profile` (the way to capture the output alone) sets no environment, and the
        // service it is meant for is the Development one of `dotnet run`.
        var unset = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") is null
            && Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") is null;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=')).ToArray(),
            EnvironmentName = unset ? Environments.Development : null,
        });
        var settings = ReadSettings(builder.Configuration, builder.Environment);
        Console.WriteLine(string.IsNullOrWhiteSpace(worker)
            ? IssueToken(settings, userId, TimeSpan.FromHours(hours))
            : IssueWorkerToken(settings, worker, TimeSpan.FromHours(hours)));
        return 0;
    }

    private static string? ArgumentAfter(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    /// <summary>
    /// Tokens already validated, until they expire (their exp plus the skew): a caller sends the same
    /// token on every request, and checking its signature and claims each time was a measured share of
    /// a GET. Bounded: when full it starts over. A changed signing key means a restart anyway.
    /// </summary>
    private sealed class RememberingTokenHandler : JsonWebTokenHandler
    {
        private const int Capacity = 10_000;
        private readonly ConcurrentDictionary<string, (TokenValidationResult Result, DateTime ValidUntil)> _validated = new(StringComparer.Ordinal);

        public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
        {
            if (_validated.TryGetValue(token, out var kept) && DateTime.UtcNow <= kept.ValidUntil)
                return kept.Result;
            var result = await base.ValidateTokenAsync(token, validationParameters);
            if (result.IsValid && result.SecurityToken is JsonWebToken jwt)
            {
                if (_validated.Count >= Capacity)
                    _validated.Clear();
                _validated[token] = (result, jwt.ValidTo + validationParameters.ClockSkew);
            }
            return result;
        }
    }
}
