using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CampaignSlices.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CampaignSlices.Tests.Operations;

/// <summary>`CampaignSlices.Api token --user UUID`: its standard output is the token alone, so `TOKEN=$(…)` captures it.</summary>
[Collection(ServiceRun.Collection)]
public sealed class TokenCommandTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Prints_one_line_a_token_of_the_user_that_the_service_accepts()
    {
        var user = Guid.NewGuid();
        var (exit, stdout, stderr) = await ServiceRun.RunToExitAsync(
            new Dictionary<string, string?> { ["Auth__SigningKey"] = ApiFactory.SigningKey }, "token", "--user", user.ToString());

        Assert.True(exit == 0, stderr);
        Assert.Equal("", stderr);
        var token = OneLine(stdout);
        Assert.Equal(user.ToString(), new JsonWebToken(token).Subject);
        var client = api.AnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/campaigns", TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task Without_an_environment_or_a_key_it_signs_with_the_development_key_of_the_local_data_folder()
    {
        var folder = Directory.CreateTempSubdirectory("campaign-slices-token-");
        try
        {
            var (exit, stdout, stderr) = await ServiceRun.RunToExitAsync(
                new Dictionary<string, string?> { ["Auth__SigningKey"] = null, ["LocalData__Folder"] = folder.FullName },
                "token", "--user", Guid.NewGuid().ToString());

            Assert.True(exit == 0, stderr);
            // The key `dotnet run` (Development) generates and then reads from the same folder.
            var key = (await File.ReadAllTextAsync(Path.Combine(folder.FullName, "signing-key"), TestContext.Current.CancellationToken)).Trim();
            var result = await new JsonWebTokenHandler().ValidateTokenAsync(OneLine(stdout), new TokenValidationParameters
            {
                ValidIssuer = "campaign-slices",
                ValidAudience = "campaign-slices",
                IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)),
            });
            Assert.True(result.IsValid, result.Exception?.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData]
    [InlineData("--user", "alice")]
    [InlineData("--user", "5b0f3c52-8a3e-4a52-9d59-8f0f6a4f2a11", "--hours", "0")]
    public async Task Wrong_arguments_print_the_usage_on_standard_error_only(params string[] arguments)
    {
        var (exit, stdout, stderr) = await ServiceRun.RunToExitAsync(
            new Dictionary<string, string?> { ["Auth__SigningKey"] = ApiFactory.SigningKey }, ["token", .. arguments]);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("usage: token --user <uuid>", stderr);
    }

    private static string OneLine(string stdout)
    {
        Assert.EndsWith(Environment.NewLine, stdout);
        var line = stdout[..^Environment.NewLine.Length];
        Assert.DoesNotContain('\n', line);
        Assert.NotEmpty(line);
        return line;
    }
}
