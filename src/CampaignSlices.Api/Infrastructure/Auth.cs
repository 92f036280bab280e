using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>Bearer JWTs (HS256) whose `sub` is the owning user's UUID, as SPEC section 2 says.</summary>
public static class Auth
{
    public const string Scheme = "Bearer";
    public const int MinimumKeyBytes = 32;
    private const string DefaultIssuer = "campaign-slices";
    private const string DefaultAudience = "campaign-slices";

    public sealed record Settings(SymmetricSecurityKey Key, string Issuer, string Audience)
    {
        /// <summary>Made once: building the parameters per request was a measurable share of a GET.</summary>
        public TokenValidationParameters Validation { get; } = new()
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = Key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromSeconds(30),
        };
    }

    public static void AddAuth(this WebApplicationBuilder builder)
    {
        var settings = ReadSettings(builder.Configuration, builder.Environment);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<ValidatedTokens>();
        builder.Services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, BearerHandler>(Scheme, null);
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().Build());
    }

    /// <summary>
    /// Auth:SigningKey from configuration; in Development, when none is given, a random key made once
    /// and kept in the local data folder. Anywhere else a missing or short key stops start-up.
    /// </summary>
    public static Settings ReadSettings(IConfiguration configuration, IHostEnvironment environment)
    {
        var configured = configuration["Auth:SigningKey"];
        byte[] key;
        if (!string.IsNullOrEmpty(configured))
            key = Encoding.UTF8.GetBytes(configured);
        else if (environment.IsDevelopment())
            key = Encoding.UTF8.GetBytes(LocalData.Secret(configuration, environment, "signing-key"));
        else
            throw new InvalidOperationException(
                $"Auth:SigningKey is not set. Give the service an HS256 signing key of at least {MinimumKeyBytes} bytes (e.g. the Auth__SigningKey environment variable).");
        if (key.Length < MinimumKeyBytes)
            throw new InvalidOperationException(
                $"Auth:SigningKey is {key.Length} bytes long; it must be at least {MinimumKeyBytes} bytes (UTF-8).");
        return new Settings(new SymmetricSecurityKey(key),
            configuration["Auth:Issuer"] ?? DefaultIssuer, configuration["Auth:Audience"] ?? DefaultAudience);
    }

    public static string IssueToken(Settings settings, Guid userId, TimeSpan lifetime, DateTime? now = null)
    {
        var issuedAt = now ?? DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            Claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = userId.ToString() },
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + lifetime,
            SigningCredentials = new SigningCredentials(settings.Key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The authenticated caller's user id; the handler only admits tokens whose sub is a UUID.</summary>
    public static Guid UserId(this ClaimsPrincipal user) => Guid.Parse(user.FindFirstValue(JwtRegisteredClaimNames.Sub)!);

    /// <summary>`token --user UUID [--hours N]`: prints a token for local use and exits.</summary>
    public static int RunTokenCommand(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args.Where(a => a.StartsWith("--") && a.Contains('=')).ToArray());
        var user = ArgumentAfter(args, "--user");
        if (!Guid.TryParse(user, out var userId))
        {
            Console.Error.WriteLine("usage: dotnet run --project src/CampaignSlices.Api -- token --user <uuid> [--hours N]");
            return 2;
        }
        var hours = int.TryParse(ArgumentAfter(args, "--hours"), out var h) && h > 0 ? h : 24;
        Console.WriteLine(IssueToken(ReadSettings(builder.Configuration, builder.Environment), userId, TimeSpan.FromHours(hours)));
        return 0;
    }

    private static string? ArgumentAfter(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private sealed class BearerHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, Settings settings, ValidatedTokens validated)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        private static readonly JsonWebTokenHandler Tokens = new() { MapInboundClaims = false };

        protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            string? header = Request.Headers.Authorization;
            if (string.IsNullOrEmpty(header))
                return AuthenticateResult.NoResult();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                return AuthenticateResult.Fail("The Authorization header must be 'Bearer <token>'.");

            var token = header["Bearer ".Length..].Trim();
            var now = TimeProvider.GetUtcNow().UtcDateTime;
            if (validated.TryGet(token, now) is not { } identity)
            {
                var result = await Tokens.ValidateTokenAsync(token, settings.Validation);
                if (!result.IsValid)
                    return AuthenticateResult.Fail(result.Exception?.Message ?? "Invalid token.");
                if (result.SecurityToken is not JsonWebToken { Subject: var subject } jwt || !Guid.TryParse(subject, out _))
                    return AuthenticateResult.Fail("The token's sub must be a user UUID.");
                identity = result.ClaimsIdentity;
                validated.Add(token, identity, jwt.ValidTo + settings.Validation.ClockSkew);
            }
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Auth.Scheme));
        }

        protected override Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            Response.Headers.WWWAuthenticate = Request.Headers.Authorization.Count == 0 ? "Bearer" : "Bearer error=\"invalid_token\"";
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// Tokens already validated, until they expire: a caller sends the same token on every request,
    /// and checking its signature and claims each time was a measurable share of a GET. Bounded: when
    /// full it starts over.
    /// </summary>
    public sealed class ValidatedTokens
    {
        private const int Capacity = 10_000;
        private readonly ConcurrentDictionary<string, (ClaimsIdentity Identity, DateTime ValidUntil)> _tokens = new(StringComparer.Ordinal);

        public ClaimsIdentity? TryGet(string token, DateTime now) =>
            _tokens.TryGetValue(token, out var entry) && now <= entry.ValidUntil ? entry.Identity : null;

        public void Add(string token, ClaimsIdentity identity, DateTime validUntil)
        {
            if (_tokens.Count >= Capacity)
                _tokens.Clear();
            _tokens[token] = (identity, validUntil);
        }
    }
}
