package urgentcarelakehouse.kms;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.crypto.DecryptionKeyRetriever;
import org.apache.parquet.crypto.FileDecryptionProperties;
import org.apache.parquet.crypto.FileEncryptionProperties;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KeyToolkit;
import org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory;
import org.apache.parquet.hadoop.api.WriteSupport.WriteContext;

/**
 * parquet-java's {@code PropertiesDrivenCryptoFactory} for reading the lake, with two checks it lacks.
 *
 * <p>It refuses plaintext files: the stock factory allows them, so a Parquet file in clear put in place of a
 * landed one (by anyone with write access to the lake, and no key) was read as if it were the data. And the
 * data key a file's footer names must be the one its place in the lake implies: a landed file lives at
 * {@code <zone>/[rows/]<dataset>/.../extract_date=<YYYY-MM-DD>/<batch>.parquet} under data key
 * {@code <zone>/<dataset>/<YYYY-MM>[.vN]} (ingest/landing/land.py). Without the check, another month's,
 * dataset's or zone's file copied over a landed one opened with its own key and was read as this one's
 * rows; DuckDB, handed the key the manifest names, refuses both.
 *
 * <p>One folder is the build's own ({@value #BUILD_ROOT_PROPERTY}: the Spark warehouse of a
 * {@code lakehouse build --target spark}). Every Parquet file Spark writes there (Delta's data files and
 * checkpoints, Parquet tables) is encrypted: footer and every column with one random data key per file
 * (AES-GCM, 256 bits), wrapped by the KMS client with the key store's current `warehouse` master key, the
 * wrapping kept in the footer's key material (docs/spark.md, "At rest"). The settings are this factory's,
 * not the session's: no Spark setting turns the encryption off or makes the footer plaintext. A file there
 * is read only if it carries such key material (a file in clear, or a lake file copied in, is refused).
 * Spark writes nowhere else: a write outside the build's folder, or in a session that names none, fails.
 */
public final class LakeCryptoFactory extends PropertiesDrivenCryptoFactory {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern LANDED = Pattern.compile(
      "(raw|quarantine)/(?:rows/)?([a-z0-9]+(?:_[a-z0-9]+)*)/(?:[^/]+/)*extract_date=(\\d{4}-\\d{2})-\\d{2}/[^/]+");

  public static final String BUILD_ROOT_PROPERTY = "lakehouse.build.root";

  @Override
  public FileEncryptionProperties getFileEncryptionProperties(
      Configuration conf, Path tempFilePath, WriteContext fileWriteContext) {
    if (!underBuildRoot(conf, tempFilePath)) {
      throw new KeyAccessDeniedException(
          "Spark writes Parquet only under the build's folder (" + BUILD_ROOT_PROPERTY + "): refused `"
              + tempFilePath + "`");
    }
    Configuration build = new Configuration(conf);
    build.unset(FOOTER_KEY_PROPERTY_NAME);
    build.unset(COLUMN_KEYS_PROPERTY_NAME);
    build.set(UNIFORM_KEY_PROPERTY_NAME, KeyStoreKmsClient.BUILD_MASTER_KEY);
    build.set(ENCRYPTION_ALGORITHM_PROPERTY_NAME, "AES_GCM_V1");
    build.setBoolean(PLAINTEXT_FOOTER_PROPERTY_NAME, false);
    build.setInt(KeyToolkit.DATA_KEY_LENGTH_PROPERTY_NAME, 256);
    // The file key is wrapped by the key store's master key itself, in the footer: no key-encryption keys
    // cached in the JVM, no key material in files beside the data.
    build.setBoolean(KeyToolkit.DOUBLE_WRAPPING_PROPERTY_NAME, false);
    build.setBoolean(KeyToolkit.KEY_MATERIAL_INTERNAL_PROPERTY_NAME, true);
    FileEncryptionProperties properties = super.getFileEncryptionProperties(build, tempFilePath, fileWriteContext);
    if (properties == null || !properties.encryptedFooter()) {
      throw new KeyAccessDeniedException("No encryption properties for `" + tempFilePath + "`: not written");
    }
    return properties;
  }

  @Override
  public FileDecryptionProperties getFileDecryptionProperties(Configuration conf, Path filePath) {
    DecryptionKeyRetriever unwrapper = super.getFileDecryptionProperties(conf, filePath).getKeyRetriever();
    if (underBuildRoot(conf, filePath)) {
      DecryptionKeyRetriever built = metadata -> {
        expectBuildKey(metadata, filePath);
        return unwrapper.getKey(metadata);
      };
      return FileDecryptionProperties.builder().withKeyRetriever(built).build();
    }
    String lake = conf.getTrimmed(KeyStoreKmsClient.LAKE_PROPERTY, "");
    DecryptionKeyRetriever checked = metadata -> {
      expectLocation(metadata, lake, filePath);
      return unwrapper.getKey(metadata);
    };
    // No withPlaintextFilesAllowed(): parquet-java then refuses a file in clear.
    return FileDecryptionProperties.builder().withKeyRetriever(checked).build();
  }

  private static boolean underBuildRoot(Configuration conf, Path filePath) {
    String build = conf.getTrimmed(BUILD_ROOT_PROPERTY, "");
    if (build.isEmpty()) {
      return false;
    }
    String root = new Path(build).toUri().getPath();
    root = root.endsWith("/") ? root : root + "/";
    // Normalised by Hadoop's Path: a `..` cannot lead out of the folder and back into the lake.
    String file = new Path(filePath.toUri().normalize()).toUri().getPath();
    String lake = new Path(conf.getTrimmed(KeyStoreKmsClient.LAKE_PROPERTY, "/")).toUri().getPath();
    return file.startsWith(root) && !file.startsWith(lake.endsWith("/") ? lake : lake + "/");
  }

  private static void expectLocation(byte[] metadata, String lake, Path filePath) {
    if (lake.isEmpty()) {
      // Never the lake a file's own key material names: the file would choose where its key is read.
      throw new KeyAccessDeniedException(
          "Set " + KeyStoreKmsClient.LAKE_PROPERTY + " to the lake's URL to read `" + filePath + "`");
    }
    String file = filePath.toUri().getPath();
    String root = new Path(lake).toUri().getPath();
    root = root.endsWith("/") ? root : root + "/";
    Matcher place = LANDED.matcher(file.startsWith(root) ? file.substring(root.length()) : "");
    if (!place.matches()) {
      throw new KeyAccessDeniedException(
          "`" + filePath + "` is not a landed file of lake `" + lake + "` (<zone>/<dataset>/.../extract_date=...)");
    }
    String keyId = referencedKeyId(metadata, filePath);
    Matcher id = KeyStoreKmsClient.KEY_ID.matcher(keyId);
    if (!id.matches()
        || !id.group(1).equals(place.group(1))
        || !id.group(2).equals(place.group(2))
        || !id.group(3).equals(place.group(3))) {
      throw new KeyAccessDeniedException(
          "`" + filePath + "` names data key `" + keyId + "`, not a key of "
              + place.group(1) + "/" + place.group(2) + "/" + place.group(3)
              + ": a file moved or copied from elsewhere in the lake");
    }
  }

  private static void expectBuildKey(byte[] metadata, Path filePath) {
    JsonNode material = keyMaterial(metadata);
    if (material == null || !material.path("internalStorage").asBoolean(false)
        || !KeyStoreKmsClient.BUILD_MASTER_KEY.equals(material.path("masterKeyID").asText(""))
        || !material.path("wrappedDEK").asText("").startsWith(KeyStoreKmsClient.BUILD_PREFIX)) {
      throw new KeyAccessDeniedException(
          "`" + filePath + "`: footer key material is not a Spark build file key (a file the build did not write)");
    }
  }

  private static JsonNode keyMaterial(byte[] metadata) {
    try {
      return metadata == null ? null : JSON.readTree(metadata);
    } catch (IOException e) {
      return null;
    }
  }

  private static String referencedKeyId(byte[] metadata, Path filePath) {
    JsonNode material;
    try {
      material = JSON.readTree(metadata);
    } catch (IOException e) {
      material = null;
    }
    // External key material would be read from a file next to this one, past this check.
    if (material == null || !material.path("internalStorage").asBoolean(false)
        || !material.path("wrappedDEK").asText("").startsWith(KeyStoreKmsClient.REFERENCE_PREFIX)) {
      throw new KeyAccessDeniedException(
          "`" + filePath + "`: footer key material is not a lakehouse data key reference");
    }
    return material.path("wrappedDEK").asText().substring(KeyStoreKmsClient.REFERENCE_PREFIX.length());
  }
}
