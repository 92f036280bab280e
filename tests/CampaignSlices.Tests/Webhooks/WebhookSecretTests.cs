using System.Text;
using CampaignSlices.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static CampaignSlices.Tests.Campaigns.CampaignFixtures;
using static CampaignSlices.Tests.Webhooks.WebhookFixtures;

namespace CampaignSlices.Tests.Webhooks;

public sealed class WebhookSecretTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Each_user_gets_a_secret_of_their_own_made_on_first_use_and_kept()
    {
        var client = api.ClientFor();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        var first = await SecretAsync(client);
        var again = await SecretAsync(client);
        var other = await SecretAsync(api.ClientFor());

        Assert.Equal(first, again);
        Assert.NotEqual(first.Secret, other.Secret);
        Assert.StartsWith("whsec_", first.Secret);
        Assert.True(Convert.FromBase64String(first.Secret["whsec_".Length..]).Length >= 24);
        Assert.InRange(first.CreatedAt, before, DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task The_secret_needs_a_token()
    {
        Assert.Equal(401, (await SendAsync(api.AnonymousClient(), HttpMethod.Get, "/api/v1/webhook-secret")).Status);
        Assert.Equal(401, (await SendAsync(api.AnonymousClient(), HttpMethod.Post, "/api/v1/webhook-secret/rotate")).Status);
    }

    [Fact]
    public async Task Rotating_answers_a_new_secret_that_reads_answer_from_then_on()
    {
        var client = api.ClientFor();
        var old = await SecretAsync(client);

        var rotated = await RotateAsync(client);

        Assert.NotEqual(old.Secret, rotated.Secret);
        Assert.StartsWith("whsec_", rotated.Secret);
        Assert.True(rotated.CreatedAt >= old.CreatedAt);
        Assert.Equal(rotated.Secret, (await SecretAsync(client)).Secret);
    }

    [Fact]
    public async Task Rotating_before_any_secret_exists_makes_the_first_one()
    {
        var user = Guid.NewGuid();
        var rotated = await RotateAsync(api.ClientFor(user));

        Assert.Equal(rotated.Secret, (await SecretAsync(api.ClientFor(user))).Secret);
        Assert.Null(await PreviousUntilAsync(user));
    }

    [Fact]
    public async Task First_uses_at_once_all_answer_the_one_secret_stored()
    {
        var user = Guid.NewGuid();
        var clients = Enumerable.Range(0, 8).Select(_ => api.ClientFor(user)).ToList();

        var answers = await Task.WhenAll(clients.Select(client => SecretAsync(client)));

        Assert.Single(answers.Select(answer => answer.Secret).Distinct());
        await using var db = await api.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("select count(*) from webhook_secrets where user_id = @user", new { user }));
    }

    [Fact]
    public async Task Two_rotations_at_once_leave_one_of_them_current_and_the_other_previous()
    {
        var user = Guid.NewGuid();
        var original = await SecretAsync(api.ClientFor(user));

        var rotations = await Task.WhenAll(RotateAsync(api.ClientFor(user)), RotateAsync(api.ClientFor(user)));

        Assert.NotEqual(rotations[0].Secret, rotations[1].Secret);
        var current = (await SecretAsync(api.ClientFor(user))).Secret;
        Assert.Contains(current, rotations.Select(r => r.Secret));
        Assert.NotEqual(original.Secret, current);
        // The previous secret is the other rotation's: what deliveries sign with besides the current one.
        var secrets = api.Services.GetRequiredService<CampaignSlices.Api.Webhooks.WebhookSecrets>();
        var stored = await secrets.GetOrCreateAsync(user, Ct);
        Assert.Equal(rotations.Select(r => r.Secret).Order(), new[] { stored.Secret, stored.Previous! }.Order());
    }

    [Fact]
    public async Task A_database_dump_holds_neither_the_secrets_nor_the_keys_that_encrypt_them()
    {
        var user = Guid.NewGuid();
        var client = api.ClientFor(user);
        var first = await SecretAsync(client);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/webhook-secret/rotate");
        request.Headers.Add("Idempotency-Key", "rotate-once");
        var rotated = await (await client.SendAsync(request, Ct)).Content.ReadAsStringAsync(Ct);
        var secret = System.Text.Json.Nodes.JsonNode.Parse(rotated)!["secret"]!.GetValue<string>();

        await using var db = await api.OpenDatabaseAsync();
        var dump = string.Join("\n",
            await db.QueryAsync<string>("select row(s.*)::text from webhook_secrets s"),
            string.Join("\n", await db.QueryAsync<string>("select row(k.*)::text from data_protection_keys k")),
            string.Join("\n", (await db.QueryAsync<byte[]>("select response_body from idempotency_keys")).Select(Encoding.UTF8.GetString)));
        foreach (var value in new[] { first.Secret, secret })
        {
            Assert.DoesNotContain(value, dump);
            Assert.DoesNotContain(value["whsec_".Length..], dump);
        }
        var keys = (await db.QueryAsync<string>("select xml from data_protection_keys")).ToList();
        Assert.NotEmpty(keys);
        Assert.All(keys, xml =>
        {
            Assert.Contains("<encryptedKey", xml);
            Assert.DoesNotContain("<masterKey", xml);
        });
    }

    [Fact]
    public async Task A_retried_rotation_with_the_same_idempotency_key_rotates_once_and_replays_the_secret()
    {
        var user = Guid.NewGuid();
        var original = await SecretAsync(api.ClientFor(user));

        var answers = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/webhook-secret/rotate");
            request.Headers.Add("Idempotency-Key", "rotate-1");
            using var response = await api.ClientFor(user).SendAsync(request, Ct);
            Assert.Equal(200, (int)response.StatusCode);
            answers.Add(await response.Content.ReadAsStringAsync(Ct));
        }

        Assert.Equal(answers[0], answers[1]);
        var stored = await api.Services.GetRequiredService<CampaignSlices.Api.Webhooks.WebhookSecrets>().GetOrCreateAsync(user, Ct);
        Assert.Equal(original.Secret, stored.Previous);
        Assert.Contains(stored.Secret, answers[0]);
    }

    [Fact]
    public async Task Replicas_started_together_share_one_key_ring_and_read_each_others_secrets()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        await using var first = new ApiFactory { ConnectionString = database };
        await using var second = new ApiFactory { ConnectionString = database };
        await Task.WhenAll(first.InitializeAsync().AsTask(), second.InitializeAsync().AsTask());
        var user = Guid.NewGuid();

        var made = await SecretAsync(first.ClientFor(user));
        var read = await SecretAsync(second.ClientFor(user));
        var rotated = await RotateAsync(second.ClientFor(user));

        Assert.Equal(made, read);
        Assert.Equal(rotated.Secret, (await SecretAsync(first.ClientFor(user))).Secret);
        await using var db = await first.OpenDatabaseAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("select count(*) from data_protection_keys"));
    }

    [Fact]
    public async Task A_replica_with_another_key_encryption_key_does_not_start()
    {
        var database = await PostgresCluster.CreateDatabaseAsync();
        await using (var first = new ApiFactory { ConnectionString = database })
        {
            await first.InitializeAsync();
            await SecretAsync(first.ClientFor());
        }
        await using var other = new ApiFactory
        {
            ConnectionString = database,
            ReplicaSettings = new Dictionary<string, string?> { ["DataProtection:KeyEncryptionKey"] = "another-key-encryption-key-of-32-bytes-or-more" },
        };

        var refused = await Assert.ThrowsAnyAsync<Exception>(async () => await other.InitializeAsync());
        Assert.Contains("KeyEncryptionKey", refused.ToString());
    }

    private async Task<DateTime?> PreviousUntilAsync(Guid user)
    {
        await using var db = await api.OpenDatabaseAsync();
        return await db.ExecuteScalarAsync<DateTime?>("select previous_until from webhook_secrets where user_id = @user", new { user });
    }
}
