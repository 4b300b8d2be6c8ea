package urgentcarelakehouse.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KmsClient;

/**
 * Opens the lake's data keys for parquet-java's {@code PropertiesDrivenCryptoFactory}, exactly as the
 * Python key store does (ingest/lake/keys.py).
 *
 * <p>A landed file's footer key material names its data key by reference ({@code "wrappedDEK":
 * "ref:raw/acts/2024-01"}, {@code "masterKeyID": "raw"}), not by a wrapped copy: the key is read from
 * {@code <lake>/_keys/raw/acts/2024-01.json}, where `keys rotate` re-wraps it, and unwrapped with the
 * master key that file names (AES-256-GCM, AAD = the key id) taken from the key store file. So rotation
 * and retirement need no change to the files, and the master keys never travel in a Spark setting: only
 * the key store's path does ({@code lakehouse.keystore}, else $LAKEHOUSE_KEYSTORE, else the default).
 * The lake is named by parquet-java's own {@code parquet.encryption.kms.instance.id}.
 *
 * <p>The files the Spark build writes (its tables: {@link LakeCryptoFactory}) each have their own random data
 * key, which {@link #wrapKey} wraps with the key store's current {@value #BUILD_MASTER_KEY} master key
 * (AES-256-GCM, AAD {@value #BUILD_AAD}) into the footer's key material:
 * {@code "build:<master key id>:<nonce>:<ciphertext>"}, base64. The master key never leaves the key store
 * file; a file is opened again with the master key it names, so a rotation keeps the tables readable and a
 * removed master key makes them unreadable (rebuild them).
 *
 * <p>Every failure is a {@link KeyAccessDeniedException}: a file whose key cannot be opened is never read,
 * and a file whose key cannot be wrapped is never written.
 */
public final class KeyStoreKmsClient implements KmsClient {

  public static final String KEYSTORE_PROPERTY = "lakehouse.keystore";
  public static final String LAKE_PROPERTY = "parquet.encryption.kms.instance.id";
  public static final String REFERENCE_PREFIX = "ref:";
  /** The key store's master key zone that wraps the build's file keys (the `masterKeyID` of its files). */
  public static final String BUILD_MASTER_KEY = "warehouse";
  public static final String BUILD_PREFIX = "build:";
  /** Sets the build's wrapped keys apart from the lake's data keys, whose AAD is their key id. */
  static final String BUILD_AAD = "urgent-care-lakehouse/spark-build-file-key";

  private static final String KEYSTORE_ENV = "LAKEHOUSE_KEYSTORE";
  private static final String KEYSTORE_FORMAT = "urgent-care-lakehouse/keystore";
  private static final String KEYS_PREFIX = "_keys";
  private static final int KEY_BYTES = 32;
  private static final int TAG_BITS = 128;
  private static final int NONCE_BYTES = 12;
  private static final SecureRandom RANDOM = new SecureRandom();
  // The same shapes as ingest/lake/keys.py: <zone>/<dataset>/<YYYY-MM>[.v<n>], and <zone>-v<n>.
  static final Pattern KEY_ID = Pattern.compile(
      "(raw|quarantine|warehouse)/([a-z0-9]+(?:_[a-z0-9]+)*)/(\\d{4}-(?:0[1-9]|1[0-2]))(?:\\.v(?:[2-9]|[1-9][0-9]+))?");
  private static final Pattern MASTER_KEY_ID = Pattern.compile("(raw|quarantine|warehouse)-v[1-9][0-9]*");
  // Any of these on the key store refuses it, as the Python key store does.
  private static final Set<PosixFilePermission> SHARED = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
  private static final ObjectMapper JSON = new ObjectMapper();

  private Configuration configuration;
  private java.nio.file.Path keystore;
  private Path lake;

  @Override
  public void initialize(Configuration conf, String kmsInstanceID, String kmsInstanceURL, String accessToken)
      throws KeyAccessDeniedException {
    configuration = conf;
    String chosen = conf.getTrimmed(KEYSTORE_PROPERTY);
    if (chosen == null || chosen.isEmpty()) {
      chosen = System.getenv(KEYSTORE_ENV);
    }
    if (chosen == null || chosen.isEmpty()) {
      chosen = Paths.get(System.getProperty("user.home"), ".config", "urgent-care-lakehouse", "keystore.json")
          .toString();
    }
    keystore = Paths.get(chosen).toAbsolutePath();
    // The lake is the KMS instance: parquet-java keeps one client per instance id, so one Spark session
    // reads several lakes (each read's options naming its own) without mixing their keys.
    if (kmsInstanceID == null || kmsInstanceID.isEmpty() || KMS_INSTANCE_ID_DEFAULT.equals(kmsInstanceID)) {
      throw new KeyAccessDeniedException(
          "Set " + LAKE_PROPERTY + " (spark.hadoop." + LAKE_PROPERTY + ") to the lake's URL: the data keys are"
              + " read from its _keys/ folder");
    }
    lake = new Path(kmsInstanceID);
  }

  @Override
  public String wrapKey(byte[] keyBytes, String masterKeyIdentifier) throws KeyAccessDeniedException {
    // Only the build's own files are written: the lake's zones are written by ingest, never by Spark.
    if (!BUILD_MASTER_KEY.equals(masterKeyIdentifier)) {
      throw new KeyAccessDeniedException(
          "The lakehouse KMS client wraps the Spark build's file keys only (master key `" + BUILD_MASTER_KEY
              + "`), not with master key `" + masterKeyIdentifier + "`");
    }
    if (keyBytes == null || keyBytes.length != KEY_BYTES) {
      throw new KeyAccessDeniedException("A Spark build file key must be " + KEY_BYTES + " bytes");
    }
    JsonNode store = readKeystore();
    String masterKeyId = store.path("current_master_keys").path(BUILD_MASTER_KEY).asText("");
    Matcher master = MASTER_KEY_ID.matcher(masterKeyId);
    if (!master.matches() || !master.group(1).equals(BUILD_MASTER_KEY)) {
      throw new KeyAccessDeniedException(
          "Key store `" + keystore + "`: no valid `current_master_keys." + BUILD_MASTER_KEY + "`");
    }
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(masterKey(store, masterKeyId, BUILD_MASTER_KEY), "AES"),
          new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(BUILD_AAD.getBytes(StandardCharsets.UTF_8));
      Base64.Encoder b64 = Base64.getEncoder();
      return BUILD_PREFIX + masterKeyId + ":" + b64.encodeToString(nonce) + ":"
          + b64.encodeToString(cipher.doFinal(keyBytes));
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("Could not wrap a Spark build file key: " + e.getMessage(), e);
    }
  }

  @Override
  public byte[] unwrapKey(String wrappedKey, String masterKeyIdentifier) throws KeyAccessDeniedException {
    if (wrappedKey != null && wrappedKey.startsWith(BUILD_PREFIX)) {
      return unwrapBuildKey(wrappedKey.substring(BUILD_PREFIX.length()), masterKeyIdentifier);
    }
    if (wrappedKey == null || !wrappedKey.startsWith(REFERENCE_PREFIX)) {
      throw new KeyAccessDeniedException(
          "Footer key material is not a lakehouse data key reference (\"" + REFERENCE_PREFIX + "<key id>\")");
    }
    String keyId = wrappedKey.substring(REFERENCE_PREFIX.length());
    Matcher id = KEY_ID.matcher(keyId);
    if (!id.matches()) {
      throw new KeyAccessDeniedException("`" + keyId + "` is not a data key id (<zone>/<dataset>/<YYYY-MM>)");
    }
    String zone = id.group(1);
    if (!zone.equals(masterKeyIdentifier)) {
      throw new KeyAccessDeniedException(
          "Data key `" + keyId + "` is not a key of zone `" + masterKeyIdentifier + "`");
    }
    Path keyPath = new Path(lake, KEYS_PREFIX + "/" + keyId + ".json");
    JsonNode document = readKeyFile(keyPath);
    // The location decides what the key is, as in Python: a key file copied elsewhere fails here or at
    // the AAD check below, even with its fields edited to match.
    expect(document, "key_id", keyId, keyPath);
    expect(document, "zone", zone, keyPath);
    expect(document, "dataset", id.group(2), keyPath);
    expect(document, "period", id.group(3), keyPath);
    String masterKeyId = document.path("master_key_id").asText("");
    Matcher master = MASTER_KEY_ID.matcher(masterKeyId);
    if (!master.matches() || !master.group(1).equals(zone)) {
      throw new KeyAccessDeniedException("Data key file `" + keyPath + "`: no valid field `master_key_id`");
    }
    byte[] masterKey = masterKey(readKeystore(), masterKeyId, zone);
    byte[] nonce = base64(document, "nonce", keyPath);
    byte[] ciphertext = base64(document, "ciphertext", keyPath);
    byte[] dataKey;
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, new SecretKeySpec(masterKey, "AES"), new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(keyId.getBytes(StandardCharsets.UTF_8));
      dataKey = cipher.doFinal(ciphertext);
    } catch (AEADBadTagException e) {
      throw new KeyAccessDeniedException(
          "Could not unwrap data key `" + keyId + "` with master key `" + masterKeyId + "` of key store `"
              + keystore + "`: wrong master key, or the key file was altered or moved", e);
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("Could not unwrap data key `" + keyId + "`: " + e.getMessage(), e);
    }
    if (dataKey.length != KEY_BYTES) {
      throw new KeyAccessDeniedException("Data key `" + keyId + "` is not " + KEY_BYTES + " bytes");
    }
    return dataKey;
  }

  private byte[] unwrapBuildKey(String wrapped, String masterKeyIdentifier) {
    String[] parts = wrapped.split(":", -1);
    Matcher master = MASTER_KEY_ID.matcher(parts[0]);
    if (!BUILD_MASTER_KEY.equals(masterKeyIdentifier) || parts.length != 3 || !master.matches()
        || !master.group(1).equals(BUILD_MASTER_KEY)) {
      throw new KeyAccessDeniedException(
          "Footer key material is not a Spark build file key (\"" + BUILD_PREFIX + BUILD_MASTER_KEY
              + "-v<n>:<nonce>:<key>\", master key `" + BUILD_MASTER_KEY + "`)");
    }
    byte[] key;
    try {
      Base64.Decoder b64 = Base64.getDecoder();
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE,
          new SecretKeySpec(masterKey(readKeystore(), parts[0], BUILD_MASTER_KEY), "AES"),
          new GCMParameterSpec(TAG_BITS, b64.decode(parts[1])));
      cipher.updateAAD(BUILD_AAD.getBytes(StandardCharsets.UTF_8));
      key = cipher.doFinal(b64.decode(parts[2]));
    } catch (IllegalArgumentException e) {
      throw new KeyAccessDeniedException("Spark build file key material is not base64", e);
    } catch (AEADBadTagException e) {
      throw new KeyAccessDeniedException(
          "Could not unwrap a Spark build file key with master key `" + parts[0] + "` of key store `" + keystore
              + "`: wrong master key, or the file's key material was altered", e);
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("Could not unwrap a Spark build file key: " + e.getMessage(), e);
    }
    if (key.length != KEY_BYTES) {
      throw new KeyAccessDeniedException("A Spark build file key is not " + KEY_BYTES + " bytes");
    }
    return key;
  }

  private JsonNode readKeyFile(Path keyPath) {
    try {
      FileSystem fs = keyPath.getFileSystem(configuration);
      try (InputStream in = fs.open(keyPath)) {
        JsonNode document = JSON.readTree(in);
        if (document == null || !document.isObject()) {
          throw new KeyAccessDeniedException("Data key file `" + keyPath + "` is not a JSON object");
        }
        return document;
      }
    } catch (java.io.FileNotFoundException e) {
      throw new KeyAccessDeniedException(
          "Data key file `" + keyPath + "` does not exist: the data it protects cannot be read", e);
    } catch (IOException e) {
      throw new KeyAccessDeniedException("Could not read data key file `" + keyPath + "`: " + e, e);
    }
  }

  /** The key store file, read afresh at each key: a changed store applies at once. */
  private JsonNode readKeystore() {
    JsonNode store;
    try {
      if (!Files.isRegularFile(keystore)) {
        throw new KeyAccessDeniedException("Key store `" + keystore + "` does not exist or is not a file (set "
            + KEYSTORE_PROPERTY + " or " + KEYSTORE_ENV + ")");
      }
      Set<PosixFilePermission> mode = Files.getPosixFilePermissions(keystore);
      mode.retainAll(SHARED);
      if (!mode.isEmpty()) {
        throw new KeyAccessDeniedException(
            "Key store `" + keystore + "` is accessible by group or others: run `chmod 600 " + keystore + "`");
      }
      store = JSON.readTree(Files.readAllBytes(keystore));
    } catch (UnsupportedOperationException e) {
      throw new KeyAccessDeniedException("Key store `" + keystore + "`: file permissions cannot be checked", e);
    } catch (IOException e) {
      throw new KeyAccessDeniedException("Could not read key store `" + keystore + "`: " + e, e);
    }
    if (store == null || !KEYSTORE_FORMAT.equals(store.path("format").asText(null))) {
      throw new KeyAccessDeniedException("`" + keystore + "` is not a lakehouse key store (field `format`)");
    }
    return store;
  }

  /** The master key `masterKeyId` of zone `zone` from the key store document. */
  private byte[] masterKey(JsonNode store, String masterKeyId, String zone) {
    JsonNode entry = store.path("master_keys").path(masterKeyId);
    if (!entry.isObject()) {
      throw new KeyAccessDeniedException(
          "Master key `" + masterKeyId + "` is not in key store `" + keystore + "`");
    }
    if (!zone.equals(entry.path("zone").asText(null))) {
      throw new KeyAccessDeniedException(
          "Key store `" + keystore + "`: master key `" + masterKeyId + "` is not a `" + zone + "` key");
    }
    byte[] key;
    try {
      key = Base64.getDecoder().decode(entry.path("key").asText(""));
    } catch (IllegalArgumentException e) {
      throw new KeyAccessDeniedException(
          "Key store `" + keystore + "`: master key `" + masterKeyId + "` is not valid base64", e);
    }
    if (key.length != KEY_BYTES) {
      throw new KeyAccessDeniedException(
          "Key store `" + keystore + "`: master key `" + masterKeyId + "` is not " + KEY_BYTES + " bytes");
    }
    return key;
  }

  private static void expect(JsonNode document, String field, String value, Path where) {
    if (!value.equals(document.path(field).asText(null))) {
      throw new KeyAccessDeniedException(
          "Data key file `" + where + "`: field `" + field + "` does not match the file's location");
    }
  }

  private static byte[] base64(JsonNode document, String field, Path where) {
    try {
      return Base64.getDecoder().decode(document.path(field).asText(""));
    } catch (IllegalArgumentException e) {
      throw new KeyAccessDeniedException("Data key file `" + where + "`: field `" + field + "` is not base64", e);
    }
  }
}
