package localtwin;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local twin's S3: {@code s3://<bucket>/<key>} stored as the local file {@code <root>/<bucket>/<key>}
 * ({@code fs.s3.twin.root}), recording the S3 request each operation stands for, so the twin can evaluate
 * them against the IAM policies of the role that made them.
 *
 * <p>Requests recorded: GetObject (open), HeadObject (status of an object), PutObject (create),
 * DeleteObject (delete; a rename copies and deletes), ListObjectsV2 with its prefix (listing, status of a
 * "folder"). S3 has no folders: mkdirs records nothing (Hadoop's S3 clients may write a marker object;
 * the twin does not). Objects cannot be appended to.
 */
public class TwinS3FileSystem extends FileSystem {
  public static final String ROOT = "fs.s3.twin.root";
  private static final List<String> AUDIT = Collections.synchronizedList(new ArrayList<>());

  private URI uri;
  private String bucket;
  private File bucketDir;
  private RawLocalFileSystem local;
  private Path workingDirectory;

  /** The requests recorded since the last call, each {@code operation TAB bucket TAB key}. */
  public static String[] drainAudit() {
    synchronized (AUDIT) {
      String[] lines = AUDIT.toArray(new String[0]);
      AUDIT.clear();
      return lines;
    }
  }

  private void record(String operation, String key) {
    AUDIT.add(operation + "\t" + bucket + "\t" + key);
  }

  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    setConf(conf);
    bucket = name.getAuthority();
    if (bucket == null || bucket.isEmpty()) {
      throw new IOException("s3 URI without a bucket: " + name);
    }
    String root = conf.get(ROOT);
    if (root == null) {
      throw new IOException(ROOT + " is not set: the local twin maps s3:// under that folder");
    }
    uri = URI.create(name.getScheme() + "://" + bucket);
    bucketDir = new File(root, bucket);
    if (!bucketDir.isDirectory()) {
      throw new FileNotFoundException("NoSuchBucket: " + bucket + " (not a bucket of the cloud assembly)");
    }
    local = new RawLocalFileSystem();
    local.initialize(URI.create("file:///"), conf);
    workingDirectory = new Path(uri.toString() + "/");
  }

  @Override
  public String getScheme() {
    return "s3";
  }

  @Override
  public URI getUri() {
    return uri;
  }

  private String key(Path path) {
    Path qualified = path.isAbsolute() ? path : new Path(workingDirectory, path);
    String text = qualified.toUri().getPath();
    while (text.startsWith("/")) {
      text = text.substring(1);
    }
    return text;
  }

  private Path toLocal(Path path) {
    String key = key(path);
    return key.isEmpty() ? new Path(bucketDir.toURI()) : new Path(new File(bucketDir, key).toURI());
  }

  private Path toRemote(Path localPath) {
    String base = bucketDir.getAbsolutePath();
    String full = new File(localPath.toUri().getPath()).getAbsolutePath();
    String relative = full.length() > base.length() ? full.substring(base.length() + 1) : "";
    return new Path(uri.toString() + "/" + relative);
  }

  private FileStatus remote(FileStatus status) {
    return new FileStatus(
        status.getLen(),
        status.isDirectory(),
        1,
        status.getBlockSize(),
        status.getModificationTime(),
        toRemote(status.getPath()));
  }

  private static String folder(String key) {
    return key.isEmpty() || key.endsWith("/") ? key : key + "/";
  }

  @Override
  public FSDataInputStream open(Path path, int bufferSize) throws IOException {
    record("GetObject", key(path));
    return local.open(toLocal(path), bufferSize);
  }

  @Override
  public FSDataOutputStream create(
      Path path,
      FsPermission permission,
      boolean overwrite,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    record("PutObject", key(path));
    return local.create(toLocal(path), permission, overwrite, bufferSize, replication, blockSize, progress);
  }

  @Override
  public FSDataOutputStream append(Path path, int bufferSize, Progressable progress) throws IOException {
    throw new UnsupportedOperationException("S3 objects cannot be appended to: " + path);
  }

  private List<String> objectsUnder(File directory, String prefix) {
    List<String> keys = new ArrayList<>();
    File[] children = directory.listFiles();
    if (children == null) {
      return keys;
    }
    for (File child : children) {
      String key = prefix + child.getName();
      if (child.isDirectory()) {
        keys.addAll(objectsUnder(child, key + "/"));
      } else {
        keys.add(key);
      }
    }
    return keys;
  }

  @Override
  public boolean rename(Path source, Path destination) throws IOException {
    String sourceKey = key(source);
    File sourceFile = new File(bucketDir, sourceKey);
    List<String> relative = new ArrayList<>();
    if (sourceFile.isDirectory()) {
      record("ListObjectsV2", folder(sourceKey));
      relative.addAll(objectsUnder(sourceFile, ""));
    } else if (sourceFile.isFile()) {
      relative.add("");
    }
    boolean renamed = local.rename(toLocal(source), toLocal(destination));
    if (renamed) {
      // Where each object went: under the destination, or (Hadoop's rename into an existing folder)
      // under destination/<source name>.
      String destinationKey = key(destination);
      for (String rest : relative) {
        String from = rest.isEmpty() ? sourceKey : sourceKey + "/" + rest;
        String direct = rest.isEmpty() ? destinationKey : destinationKey + "/" + rest;
        String nested = destinationKey + "/" + sourceFile.getName() + (rest.isEmpty() ? "" : "/" + rest);
        String to = new File(bucketDir, direct).isFile() ? direct : nested;
        record("GetObject", from); // CopyObject reads the source ...
        record("PutObject", to); // ... writes the copy ...
        record("DeleteObject", from); // ... and the source is deleted
      }
    }
    return renamed;
  }

  @Override
  public boolean delete(Path path, boolean recursive) throws IOException {
    String key = key(path);
    File file = new File(bucketDir, key);
    if (file.isDirectory()) {
      record("ListObjectsV2", folder(key));
      if (recursive) {
        for (String rest : objectsUnder(file, "")) {
          record("DeleteObject", folder(key) + rest);
        }
      }
    } else if (file.isFile()) {
      record("DeleteObject", key);
    } else {
      record("ListObjectsV2", folder(key));
      return false;
    }
    return local.delete(toLocal(path), recursive);
  }

  @Override
  public FileStatus[] listStatus(Path path) throws IOException {
    String key = key(path);
    File file = new File(bucketDir, key);
    if (file.isFile()) {
      record("HeadObject", key);
      return new FileStatus[] {remote(local.getFileStatus(toLocal(path)))};
    }
    record("ListObjectsV2", folder(key));
    if (!file.isDirectory()) {
      throw new FileNotFoundException("s3://" + bucket + "/" + key + ": no such key or prefix");
    }
    FileStatus[] statuses = local.listStatus(toLocal(path));
    FileStatus[] result = new FileStatus[statuses.length];
    for (int i = 0; i < statuses.length; i++) {
      result[i] = remote(statuses[i]);
    }
    return result;
  }

  @Override
  public void setWorkingDirectory(Path directory) {
    workingDirectory = directory.isAbsolute() ? directory : new Path(workingDirectory, directory);
  }

  @Override
  public Path getWorkingDirectory() {
    return workingDirectory;
  }

  @Override
  public boolean mkdirs(Path path, FsPermission permission) throws IOException {
    return local.mkdirs(toLocal(path), permission);
  }

  @Override
  public FileStatus getFileStatus(Path path) throws IOException {
    String key = key(path);
    if (key.isEmpty()) {
      return new FileStatus(0, true, 1, 0, bucketDir.lastModified(), new Path(uri.toString() + "/"));
    }
    File file = new File(bucketDir, key);
    if (file.isFile()) {
      record("HeadObject", key);
    } else {
      record("ListObjectsV2", folder(key));
    }
    if (!file.exists()) {
      throw new FileNotFoundException("s3://" + bucket + "/" + key + ": no such key or prefix");
    }
    return remote(local.getFileStatus(toLocal(path)));
  }
}
