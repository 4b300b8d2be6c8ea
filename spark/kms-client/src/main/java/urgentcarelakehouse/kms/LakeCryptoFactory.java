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
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory;

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
 * <p>One folder may be named as the build's own ({@value #BUILD_ROOT_PROPERTY}: the Spark warehouse of a
 * {@code lakehouse build --target spark}): the tables Spark writes there are read as they were written, in
 * clear until the build encrypts what it writes (issue 19, item 3). Every other file is read as above.
 */
public final class LakeCryptoFactory extends PropertiesDrivenCryptoFactory {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern LANDED = Pattern.compile(
      "(raw|quarantine)/(?:rows/)?([a-z0-9]+(?:_[a-z0-9]+)*)/(?:[^/]+/)*extract_date=(\\d{4}-\\d{2})-\\d{2}/[^/]+");

  public static final String BUILD_ROOT_PROPERTY = "lakehouse.build.root";

  @Override
  public FileDecryptionProperties getFileDecryptionProperties(Configuration conf, Path filePath) {
    if (underBuildRoot(conf, filePath)) {
      return null;
    }
    DecryptionKeyRetriever unwrapper = super.getFileDecryptionProperties(conf, filePath).getKeyRetriever();
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
