using CampaignSlices.Tests.Infrastructure;

namespace CampaignSlices.Tests.Operations;

/// <summary>How the built service starts and stops, as an operator sees it in its output.</summary>
[Collection(ServiceRun.Collection)]
public sealed class StartupTests
{
    /// <summary>Everything a Production start needs; each case takes one setting away or spoils it.</summary>
    private static Dictionary<string, string?> Production(string database) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__Campaigns"] = database,
        ["Auth__SigningKey"] = ApiFactory.SigningKey,
        ["DataProtection__KeyEncryptionKey"] = ApiFactory.KeyEncryptionKey,
    };

    [Theory]
    [InlineData("Auth__SigningKey", null, "Auth:SigningKey is not set. Give the service an HS256 signing key of at least 32 bytes")]
    [InlineData("Auth__SigningKey", "only-twenty-one-bytes", "Auth:SigningKey is 21 bytes long; it must be at least 32 bytes")]
    [InlineData("DataProtection__KeyEncryptionKey", null, "DataProtection:KeyEncryptionKey is not set.")]
    [InlineData("DataProtection__KeyEncryptionKey", "short", "DataProtection:KeyEncryptionKey is 5 bytes long")]
    [InlineData("Datasets__MaxRows", "0", "Datasets:MaxRows and Datasets:MaxBytes must be positive")]
    [InlineData("Scheduling__Retries", "many", "Failed to convert configuration value 'many' at 'Scheduling:Retries'")]
    public async Task A_configuration_error_stops_start_up_with_one_line_naming_the_setting(string variable, string? value, string line)
    {
        var environment = Production("Host=127.0.0.1;Port=1;Database=unreached");
        environment[variable] = value;

        var (exit, stdout, stderr) = await ServiceRun.RunToExitAsync(environment);

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        var error = Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(line, error);
        Assert.Contains(variable, error);
    }

    [Fact]
    public async Task The_token_command_in_production_without_a_key_says_so_in_one_line()
    {
        var environment = Production("Host=127.0.0.1;Port=1;Database=unreached");
        environment["Auth__SigningKey"] = null;

        var (exit, stdout, stderr) = await ServiceRun.RunToExitAsync(environment, "token", "--user", Guid.NewGuid().ToString());

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith("Auth:SigningKey is not set.", Assert.Single(stderr.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task A_clean_restart_logs_no_warning_and_writes_nothing_to_the_home_folder()
    {
        var home = Directory.CreateTempSubdirectory("campaign-slices-home-");
        try
        {
            var environment = Production(await PostgresCluster.CreateDatabaseAsync());
            environment["HOME"] = home.FullName;
            // As in the runtime image, where Data Protection warns that its keys will not outlive the container.
            environment["DOTNET_RUNNING_IN_CONTAINER"] = "true";
            // A check-in row left behind by the first run would be judged failed within the restart's four seconds.
            environment["Scheduling__CheckinInterval"] = "00:00:01";
            environment["Scheduling__CheckinMisfireThreshold"] = "00:00:02";
            foreach (var (run, hold) in new[] { ("first run", TimeSpan.Zero), ("restart", TimeSpan.FromSeconds(4)) })
            {
                var address = ServiceRun.FreeAddress();
                await using var service = ServiceRun.Start(environment, "--urls", address.ToString());
                await service.WaitUntilReadyAsync(address);
                await Task.Delay(hold, TestContext.Current.CancellationToken);
                var (exit, stdout, stderr) = await service.StopAsync();

                Assert.True(exit == 0, $"{run}: exit code {exit}: {stderr}");
                Assert.Equal("", stderr);
                foreach (var level in new[] { "Warning", "Error", "Critical" })
                    Assert.False(stdout.Contains($"\"LogLevel\":\"{level}\"", StringComparison.Ordinal), $"{run} logged a {level}:\n{stdout}");
            }
            Assert.Empty(home.EnumerateFileSystemInfos());
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
