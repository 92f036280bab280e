using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Npgsql;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>
/// ASP.NET Core Data Protection for what the service stores encrypted (webhook signing secrets). Its
/// key ring lives in PostgreSQL, so every replica reads the same keys; each key is stored encrypted
/// (AES-256-GCM) under a key derived from DataProtection:KeyEncryptionKey, which is kept outside the
/// database, so a dump of the database alone reveals neither the keys nor what they protect.
/// </summary>
public static class KeyRing
{
    public const int MinimumKeyBytes = 32;
    // Any fixed number other than the migrations' lock.
    private const long AdvisoryLockKey = 0x4b_65_79_52_69_6e_67;

    public static void AddKeyRing(this WebApplicationBuilder builder)
    {
        var key = new KeyEncryptionKey(ReadKeyEncryptionKey(builder.Configuration, builder.Environment));
        builder.Services.AddSingleton(key);
        // A fixed name, not the default (the content root path), so replicas installed anywhere share the keys.
        builder.Services.AddDataProtection().SetApplicationName("CampaignSlices");
        builder.Services.AddOptions<KeyManagementOptions>().Configure<NpgsqlDataSource>((options, db) =>
        {
            options.XmlRepository = new Repository(db);
            options.XmlEncryptor = new Encryptor(key);
        });
    }

    /// <summary>
    /// Reads the key ring once at start-up, under an advisory lock: replicas starting together on an
    /// empty ring then share the first key instead of each making one of its own. A key that does not
    /// decrypt (another DataProtection:KeyEncryptionKey than the one it was stored under) stops start-up,
    /// rather than letting the ring quietly make a new key that nothing stored can be read with.
    /// </summary>
    public static async Task LoadKeyRingAsync(this WebApplication app, CancellationToken ct)
    {
        await using var connection = await app.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await connection.ExecuteAsync("select pg_advisory_lock(@AdvisoryLockKey)", new { AdvisoryLockKey });
        try
        {
            foreach (var key in app.Services.GetRequiredService<IKeyManager>().GetAllKeys())
                try
                {
                    _ = key.Descriptor;
                }
                catch (Exception e) when (e is CryptographicException or FormatException)
                {
                    throw new ConfigurationException(
                        $"Data Protection key {key.KeyId} in the database cannot be decrypted: DataProtection:KeyEncryptionKey is not the key it was stored under ({e.GetType().Name}).");
                }
            app.Services.GetDataProtector("CampaignSlices.KeyRing.Load").Protect([0]);
        }
        finally
        {
            await connection.ExecuteAsync("select pg_advisory_unlock(@AdvisoryLockKey)", new { AdvisoryLockKey });
        }
    }

    /// <summary>
    /// DataProtection:KeyEncryptionKey (its UTF-8 bytes, at least 32); in Development, when none is
    /// given, a random one made once and kept in the local data folder. Anywhere else it is required.
    /// </summary>
    private static byte[] ReadKeyEncryptionKey(IConfiguration configuration, IHostEnvironment environment)
    {
        var configured = configuration["DataProtection:KeyEncryptionKey"];
        var secret = !string.IsNullOrEmpty(configured) ? configured
            : environment.IsDevelopment() ? LocalData.Secret(configuration, environment, "key-encryption-key")
            : throw new ConfigurationException(
                $"DataProtection:KeyEncryptionKey is not set. Give the service a random secret of at least {MinimumKeyBytes} bytes, the same on every replica "
                + "(e.g. the DataProtection__KeyEncryptionKey environment variable); it encrypts the key ring kept in the database.");
        var bytes = Encoding.UTF8.GetBytes(secret);
        if (bytes.Length < MinimumKeyBytes)
            throw new ConfigurationException($"DataProtection:KeyEncryptionKey is {bytes.Length} bytes long; it must be at least {MinimumKeyBytes} bytes (UTF-8) "
                + "(the DataProtection__KeyEncryptionKey environment variable).");
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, bytes, 32, info: "CampaignSlices key ring"u8.ToArray());
    }

    public sealed class KeyEncryptionKey(byte[] key)
    {
        private const int NonceBytes = 12;
        private const int TagBytes = 16;

        public byte[] Encrypt(byte[] plaintext)
        {
            var sealedBytes = new byte[NonceBytes + plaintext.Length + TagBytes];
            var nonce = sealedBytes.AsSpan(0, NonceBytes);
            RandomNumberGenerator.Fill(nonce);
            using var aes = new AesGcm(key, TagBytes);
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceBytes, plaintext.Length), sealedBytes.AsSpan(NonceBytes + plaintext.Length));
            return sealedBytes;
        }

        public byte[] Decrypt(byte[] sealedBytes)
        {
            var plaintext = new byte[sealedBytes.Length - NonceBytes - TagBytes];
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes, plaintext.Length), sealedBytes.AsSpan(NonceBytes + plaintext.Length), plaintext);
            return plaintext;
        }
    }

    private sealed class Encryptor(KeyEncryptionKey key) : IXmlEncryptor
    {
        public EncryptedXmlInfo Encrypt(XElement plaintextElement) =>
            new(new XElement("encryptedKey", Convert.ToBase64String(key.Encrypt(Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting))))),
                typeof(Decryptor));
    }

    /// <summary>Made by Data Protection from the type named in the stored XML, hence public with this constructor.</summary>
    public sealed class Decryptor(IServiceProvider services) : IXmlDecryptor
    {
        public XElement Decrypt(XElement encryptedElement) =>
            XElement.Parse(Encoding.UTF8.GetString(services.GetRequiredService<KeyEncryptionKey>().Decrypt(Convert.FromBase64String(encryptedElement.Value))));
    }

    /// <summary>The key ring's XML elements in a table; Data Protection asks for them synchronously, and rarely.</summary>
    private sealed class Repository(NpgsqlDataSource db) : IXmlRepository
    {
        public IReadOnlyCollection<XElement> GetAllElements()
        {
            using var connection = db.OpenConnection();
            return [.. connection.Query<string>("select xml from data_protection_keys order by created_at, name").Select(xml => XElement.Parse(xml))];
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            using var connection = db.OpenConnection();
            connection.Execute("insert into data_protection_keys (name, xml) values (@friendlyName, @xml)",
                new { friendlyName, xml = element.ToString(SaveOptions.DisableFormatting) });
        }
    }
}
