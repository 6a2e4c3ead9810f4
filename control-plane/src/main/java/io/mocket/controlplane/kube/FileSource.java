package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the cluster from a directory of Kubernetes YAML instead of an API server (demos, tests, air-gapped
 * trials): every {@code *.yaml} and {@code *.yml} below the directory, multi-document files included, parsed
 * into the same classes the informers deliver, so the {@link ClusterSink} cannot tell the sources apart.
 * Documents of other kinds are ignored. The directory is watched (file system events plus a slow poll) and a
 * change is delivered as upserts and deletes of exactly the objects that changed.
 *
 * <p>A file that stops parsing keeps serving its last good content while {@link #problems()} names the file,
 * the line and the fix, and the counter {@code mocket.source.errors{source=file}} counts it; the rest of the
 * directory is applied. Hidden files and directories (names starting with a dot) are skipped, which also
 * keeps the timestamped copies of a mounted ConfigMap from being read twice.
 *
 * <p>There is no leader election with this source: it writes nothing to Kubernetes and runs in a single
 * process, so every replica simply serves what its directory says.
 */
public final class FileSource implements AutoCloseable {

    /**
     * Timing of the source.
     *
     * @param debounce        quiet time after the last file system event before the directory is rescanned,
     *                        so an editor's save (truncate, write, rename) is read once and complete
     * @param pollInterval    period of a full rescan that catches what events miss (network file systems,
     *                        ConfigMap symlink swaps, exhausted inotify watches)
     * @param watchFileSystem whether to use file system events at all; with false only the poll runs
     */
    public record Settings(Duration debounce, Duration pollInterval, boolean watchFileSystem) {
        public Settings {
            Objects.requireNonNull(debounce, "debounce");
            Objects.requireNonNull(pollInterval, "pollInterval");
            if (debounce.isNegative() || !pollInterval.isPositive()) {
                throw new IllegalArgumentException("debounce must be >= 0 and pollInterval > 0, not " + debounce
                        + " and " + pollInterval);
            }
        }

        /** 200 ms debounce, 30 s poll, file system events on. */
        public static Settings defaults() {
            return new Settings(Duration.ofMillis(200), Duration.ofSeconds(30), true);
        }
    }

    /** Something wrong with the input; {@code line} is 1-based, 0 when it concerns the whole file. */
    public record Problem(Path file, int line, String message) {
        @Override
        public String toString() {
            return file + (line > 0 ? ":" + line : "") + ": " + message;
        }
    }

    private static final Logger log = LoggerFactory.getLogger(FileSource.class);

    private final Path directory;
    private final ClusterSink sink;
    private final Settings settings;
    private final Counter errors;
    private final ManifestParser parser = new ManifestParser(new KubernetesSerialization());
    private final ScheduledExecutorService executor;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    // Confined to the executor thread.
    private final Map<Path, FileState> files = new TreeMap<>();
    private Map<ObjectKey, Source> delivered = Map.of();
    private List<Problem> directoryProblems = List.of();
    private List<Problem> duplicateProblems = List.of();
    private final Map<Path, WatchKey> watchedDirectories = new HashMap<>();

    private volatile boolean loaded;
    private volatile List<Problem> problems = List.of();
    private volatile WatchService watchService;
    private volatile Thread watcher;
    private ScheduledFuture<?> pendingScan;
    private long firstUnscannedEventNanos;

    public FileSource(Path directory, ClusterSink sink, Settings settings, MeterRegistry meterRegistry) {
        this.directory = Objects.requireNonNull(directory, "directory").toAbsolutePath().normalize();
        this.sink = Objects.requireNonNull(sink, "sink");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.errors = Counter.builder("mocket.source.errors")
                .description("Errors reading cluster objects: failed lists and watches of the Kubernetes API, "
                        + "invalid documents of the file source")
                .tag("source", "file")
                .register(meterRegistry);
        this.executor = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("mocket-file-source").daemon().factory());
    }

    /**
     * Loads the directory completely (the sink gets one {@code replaceAll} per kind before this returns) and
     * starts watching it.
     *
     * @throws IllegalStateException if the directory is missing, not a directory or unreadable; the message
     *                               names the directory and the fix
     */
    public void start() {
        if (closed.get()) {
            throw new IllegalStateException("this FileSource was closed; create a new one to read again");
        }
        if (!started.compareAndSet(false, true)) {
            return;
        }
        try {
            checkDirectory();
            if (settings.watchFileSystem()) {
                watchService = directory.getFileSystem().newWatchService();
                Thread thread = Thread.ofPlatform().name("mocket-file-source-watch").daemon().unstarted(this::watch);
                watcher = thread;
                thread.start();
            }
            executor.submit(this::initialLoad).get();
        } catch (IOException e) {
            close();
            throw new IllegalStateException("Cannot watch " + directory + " for changes (" + e.getMessage()
                    + "): raise fs.inotify.max_user_instances, or turn file system events off and rely on polling",
                    e);
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while loading " + directory, e);
        } catch (ExecutionException e) {
            close();
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("Loading " + directory + " failed: " + e.getCause(), e.getCause());
        } catch (RuntimeException e) {
            close(); // a source that failed to start holds no threads
            throw e;
        }
        long poll = settings.pollInterval().toMillis();
        executor.scheduleWithFixedDelay(this::scanLogged, poll, poll, TimeUnit.MILLISECONDS);
    }

    /** Synced once the directory has been loaded completely; stays synced (problems are in {@link #problems()}). */
    public SourceHealth health() {
        if (closed.get()) {
            return SourceHealth.notReady("the file source for " + directory + " is closed");
        }
        if (!loaded) {
            return SourceHealth.notReady("the file source has not loaded " + directory + " yet");
        }
        return SourceHealth.ok();
    }

    /** Current problems of the input, per file and line; empty when every file parses. */
    public List<Problem> problems() {
        return problems;
    }

    /** The directory being read, absolute. */
    public Path directory() {
        return directory;
    }

    /** Stops watching; the sink keeps what was delivered. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        WatchService service = watchService;
        if (service != null) {
            try {
                service.close();
            } catch (IOException e) {
                log.debug("Closing the watch service of {} failed", directory, e);
            }
        }
        executor.shutdownNow();
        try {
            Thread thread = watcher;
            if (thread != null) {
                thread.join(Duration.ofSeconds(5));
            }
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                log.warn("The file source thread for {} did not stop within 5s; it is a daemon and will not keep "
                        + "the process alive", directory);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void checkDirectory() {
        if (!Files.exists(directory)) {
            throw new IllegalStateException("The file source directory " + directory + " does not exist: create it "
                    + "and put Kubernetes YAML (*.yaml, *.yml) in it, or point the file source at an existing "
                    + "directory");
        }
        if (!Files.isDirectory(directory)) {
            throw new IllegalStateException("The file source path " + directory + " is not a directory: point the "
                    + "file source at the directory that holds the YAML files, not at a file");
        }
        if (!Files.isReadable(directory) || !Files.isExecutable(directory)) {
            throw new IllegalStateException("The file source directory " + directory + " is not readable by this "
                    + "process (user " + System.getProperty("user.name") + "): make it readable and searchable "
                    + "(chmod a+rx) or mount it so");
        }
    }

    private void initialLoad() {
        List<Path> found;
        try {
            found = listManifests();
        } catch (IOException e) {
            throw new IllegalStateException("Cannot read the file source directory " + directory + ": " + e
                    + ": make it and its subdirectories readable by this process", e);
        }
        readFiles(found);
        apply();
    }

    private void scanLogged() {
        try {
            scan();
        } catch (RuntimeException e) {
            log.error("Rescanning {} failed; the last loaded state stays in place and the next change or poll "
                    + "retries", directory, e);
        }
    }

    private void scan() {
        if (closed.get()) {
            return;
        }
        List<Path> found;
        try {
            found = listManifests();
            if (!directoryProblems.isEmpty()) {
                log.info("The file source directory {} is readable again", directory);
            }
            directoryProblems = List.of();
        } catch (IOException e) {
            String message = e instanceof NoSuchFileException
                    ? "the directory is gone: recreate it (the last loaded state is served until then)"
                    : "cannot read the directory (" + e + "): make it readable (the last loaded state is served "
                    + "until then)";
            Problem problem = new Problem(directory, 0, message);
            if (!directoryProblems.contains(problem)) {
                errors.increment();
                log.error("{}", problem);
            }
            directoryProblems = List.of(problem);
            publishProblems();
            return;
        }
        readFiles(found);
        apply();
    }

    /** Reads files whose content changed since the last scan and forgets files that are gone. */
    private void readFiles(List<Path> found) {
        Set<Path> present = new HashSet<>(found);
        files.keySet().removeIf(file -> {
            boolean gone = !present.contains(file);
            if (gone) {
                log.info("{} was removed: deleting its objects", file);
            }
            return gone;
        });
        for (Path file : found) {
            FileState previous = files.get(file);
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(file);
            } catch (NoSuchFileException e) {
                files.remove(file); // removed between listing and reading
                continue;
            } catch (IOException e) {
                Problem problem = new Problem(file, 0, "cannot read the file (" + e + "): make it readable by this "
                        + "process");
                if (previous == null || !previous.problems().contains(problem)) {
                    errors.increment();
                    log.warn("{}{}", problem, keepNote(previous));
                }
                files.put(file, new FileState(previous == null ? "" : previous.hash(),
                        previous == null ? List.of() : previous.good(), List.of(problem)));
                continue;
            }
            String hash = sha256(bytes);
            if (previous != null && previous.hash().equals(hash) && previous.problems().stream()
                    .noneMatch(p -> p.line() == 0)) {
                continue;
            }
            files.put(file, parse(file, bytes, hash, previous));
        }
    }

    private FileState parse(Path file, byte[] bytes, String hash, FileState previous) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1); // a byte order mark, as some Windows editors write
        }
        List<ManifestParser.Document> documents = parser.parse(text);
        List<ManifestParser.Parsed> good = new ArrayList<>();
        List<Problem> fileProblems = new ArrayList<>();
        for (ManifestParser.Document document : documents) {
            switch (document) {
                case ManifestParser.Parsed parsed -> good.add(parsed);
                case ManifestParser.Ignored ignored -> log.debug("{}:{}: ignoring {} {}: the control plane does not "
                        + "read that kind", file, ignored.line(), ignored.apiVersion(), ignored.kind());
                case ManifestParser.Invalid invalid -> fileProblems.add(new Problem(file, invalid.line(),
                        invalid.message()));
            }
        }
        if (!fileProblems.isEmpty()) {
            errors.increment(fileProblems.size());
            for (Problem problem : fileProblems) {
                log.warn("{}{}", problem, keepNote(previous));
            }
            return new FileState(hash, previous == null ? List.of() : previous.good(), List.copyOf(fileProblems));
        }
        if (previous != null) {
            log.info("Reloaded {}: {} objects", file, good.size());
        }
        return new FileState(hash, List.copyOf(good), List.of());
    }

    private static String keepNote(FileState previous) {
        return previous != null && !previous.good().isEmpty()
                ? " (serving the last good content of this file until it is fixed)"
                : " (nothing from this file is served until it is fixed)";
    }

    /** Computes what the directory says now and delivers the difference to the sink. */
    private void apply() {
        Map<ObjectKey, Source> desired = new LinkedHashMap<>();
        List<Problem> duplicates = new ArrayList<>();
        files.forEach((file, state) -> {
            for (ManifestParser.Parsed parsed : state.good()) {
                ObjectKey key = ObjectKey.of(parsed.kind(), parsed.object());
                Source source = new Source(parsed.object(), file, parsed.line());
                Source first = desired.putIfAbsent(key, source);
                if (first != null) {
                    duplicates.add(new Problem(file, parsed.line(), KindModel.describe(parsed.kind(), parsed.object())
                            + " is also defined at " + first.file() + ":" + first.line() + "; this copy is ignored: "
                            + "keep only one of them"));
                }
            }
        });
        for (Problem duplicate : duplicates) {
            if (!duplicateProblems.contains(duplicate)) {
                errors.increment();
                log.warn("{}", duplicate);
            }
        }
        duplicateProblems = List.copyOf(duplicates);

        if (!loaded) {
            Map<KubeKind, List<HasMetadata>> byKind = new EnumMap<>(KubeKind.class);
            for (KubeKind kind : KubeKind.values()) {
                byKind.put(kind, new ArrayList<>());
            }
            desired.forEach((key, source) -> byKind.get(key.kind()).add(source.object()));
            byKind.forEach((kind, objects) -> sink.replaceAll(kind, List.copyOf(objects)));
            log.info("Loaded {} objects from {} files in {}", desired.size(), files.size(), directory);
            loaded = true;
        } else {
            int changes = 0;
            for (Map.Entry<ObjectKey, Source> entry : desired.entrySet()) {
                Source old = delivered.get(entry.getKey());
                if (old == null || !old.object().equals(entry.getValue().object())) {
                    sink.upsert(entry.getKey().kind(), entry.getValue().object());
                    changes++;
                }
            }
            for (Map.Entry<ObjectKey, Source> entry : delivered.entrySet()) {
                if (!desired.containsKey(entry.getKey())) {
                    sink.delete(entry.getKey().kind(), entry.getValue().object());
                    changes++;
                }
            }
            if (changes > 0) {
                log.debug("Delivered {} changes from {}", changes, directory);
            }
        }
        delivered = desired;
        publishProblems();
    }

    private void publishProblems() {
        List<Problem> all = new ArrayList<>(directoryProblems);
        files.values().forEach(state -> all.addAll(state.problems()));
        all.addAll(duplicateProblems);
        problems = List.copyOf(all);
    }

    private List<Path> listManifests() throws IOException {
        List<Path> found = new ArrayList<>();
        Files.walkFileTree(directory, EnumSet.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE,
                new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                        if (!dir.equals(directory) && hidden(dir)) {
                            return FileVisitResult.SKIP_SUBTREE;
                        }
                        watchDirectory(dir);
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                        String name = file.getFileName().toString();
                        if (attrs.isRegularFile() && !hidden(file) && (name.endsWith(".yaml") || name.endsWith(".yml"))) {
                            found.add(file);
                        }
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                        if (file.equals(directory)) {
                            throw e;
                        }
                        if (e instanceof FileSystemLoopException) {
                            log.warn("{} links back to a directory above it; skipped", file);
                        } else if (!(e instanceof NoSuchFileException)) {
                            log.warn("Cannot read {} ({}); skipped", file, e.toString());
                        }
                        return FileVisitResult.CONTINUE;
                    }
                });
        found.sort(null);
        return found;
    }

    private static boolean hidden(Path path) {
        Path name = path.getFileName();
        return name != null && name.toString().startsWith(".");
    }

    private void watchDirectory(Path dir) {
        WatchService service = watchService;
        if (service == null) {
            return;
        }
        WatchKey key = watchedDirectories.get(dir);
        if (key != null && key.isValid()) {
            return;
        }
        try {
            watchedDirectories.put(dir, dir.register(service, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_DELETE, StandardWatchEventKinds.ENTRY_MODIFY));
        } catch (ClosedWatchServiceException e) {
            // closing
        } catch (IOException e) {
            log.warn("Cannot watch {} for changes ({}); changes below it are picked up by the {} poll", dir,
                    e.toString(), KubernetesSource.human(settings.pollInterval()));
        }
    }

    /** The file system event loop: any event in a watched directory asks for a debounced rescan. */
    private void watch() {
        WatchService service = watchService;
        while (!closed.get()) {
            WatchKey key;
            try {
                key = service.take();
            } catch (ClosedWatchServiceException | InterruptedException e) {
                return;
            }
            key.pollEvents();
            key.reset();
            requestScan();
        }
    }

    private synchronized void requestScan() {
        long now = System.nanoTime();
        if (pendingScan == null || pendingScan.isDone()) {
            firstUnscannedEventNanos = now;
        } else if (now - firstUnscannedEventNanos < settings.debounce().toNanos() * 10) {
            // Keep postponing while events keep coming, but not forever: a file rewritten in a loop is still read.
            pendingScan.cancel(false);
        } else {
            return;
        }
        try {
            pendingScan = executor.schedule(this::scanLogged, settings.debounce().toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // closing
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
        }
    }

    /** One file: the hash of the content last read, the objects of its last good content, its problems. */
    private record FileState(String hash, List<ManifestParser.Parsed> good, List<Problem> problems) {
    }

    /** Where the object that won for a key comes from, for duplicate messages. */
    private record Source(HasMetadata object, Path file, int line) {
    }

    private record ObjectKey(KubeKind kind, String namespace, String name) {
        static ObjectKey of(KubeKind kind, HasMetadata object) {
            return new ObjectKey(kind, object.getMetadata().getNamespace(), object.getMetadata().getName());
        }
    }
}
