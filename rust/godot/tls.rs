//! wss:// settings: the TLS resources or PEM file paths turned into the engine's `TlsConfig`.

use std::fs;
use std::path::Path;

use gdnative::api::{CryptoKey, File, Resource, ResourceSaver, X509Certificate};
use gdnative::core_types::GodotError;
use gdnative::prelude::*;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::errors::tls_error_code;
use super::ffi::{key_pem_from_engine, resource_path};
use super::log;
use super::pool;
use gdws_engine::{Pem, TlsConfig, MAX_PEM_BYTES};

/// The wss:// properties: where each piece of the TLS material comes from, a resource or a
/// file path (empty: unset). `load` prints and returns an error code for everything that can
/// be wrong with them.
#[derive(Default)]
pub(crate) struct TlsSettings {
    pub ssl_certificate: Option<Ref<X509Certificate>>,
    pub ssl_certificate_path: String,
    pub private_key: Option<Ref<CryptoKey>>,
    pub private_key_path: String,
    pub ca_chain: Option<Ref<X509Certificate>>,
    pub ca_chain_path: String,
}

/// A failure already printed: the code `listen()` returns.
type Failed = GodotError;

impl TlsSettings {
    /// The TLS configuration to serve wss:// with, or `None` for plain ws:// (nothing set).
    /// Prints what is wrong (naming `call`: listen or reload_tls) and returns the error code
    /// otherwise. Each use reads the files and resources again.
    pub fn load(&self, call: &str) -> Result<Option<TlsConfig>, Failed> {
        let certificate = self.pick(
            call,
            "ssl_certificate",
            self.ssl_certificate.is_some(),
            &self.ssl_certificate_path,
        )?;
        let key = self.pick(
            call,
            "private_key",
            self.private_key.is_some(),
            &self.private_key_path,
        )?;
        let ca_chain = self.pick(
            call,
            "ca_chain",
            self.ca_chain.is_some(),
            &self.ca_chain_path,
        )?;
        match (certificate, key) {
            (false, false) if !ca_chain => return Ok(None),
            (true, true) => {}
            (has_certificate, has_key) => {
                let missing = match (has_certificate, has_key) {
                    (true, false) => "ssl_certificate is set but private_key is not",
                    (false, true) => "private_key is set but ssl_certificate is not",
                    _ => "ca_chain is set but ssl_certificate and private_key are not",
                };
                log::error(
                    call,
                    format!(
                        "{missing}: wss:// needs both ssl_certificate (or ssl_certificate_path) \
                         and private_key (or private_key_path); clear them all to serve plain \
                         ws://"
                    ),
                );
                return Err(GodotError::Unconfigured);
            }
        }

        let certificate = match &self.ssl_certificate {
            Some(resource) => certificate_pem(call, "ssl_certificate", resource)?,
            None => read_path(call, "ssl_certificate_path", &self.ssl_certificate_path)?,
        };
        let key = match &self.private_key {
            Some(resource) => match key_pem_from_engine(resource) {
                // Godot 3.5 and later: straight from the engine, on every platform.
                Some(pem) => Pem::new("private_key", pem.into_bytes()),
                None => Pem::new(
                    "private_key",
                    resource_pem(call, "private_key", resource, "key")?,
                ),
            },
            None => read_path(call, "private_key_path", &self.private_key_path)?,
        };
        let ca_chain = match &self.ca_chain {
            Some(resource) => Some(certificate_pem(call, "ca_chain", resource)?),
            None if !self.ca_chain_path.is_empty() => {
                Some(read_path(call, "ca_chain_path", &self.ca_chain_path)?)
            }
            None => None,
        };

        match TlsConfig::from_pem(&certificate, &key, ca_chain.as_ref()) {
            Ok(config) => {
                for warning in config.warnings() {
                    log::warn(call, warning);
                }
                Ok(Some(config))
            }
            Err(e) => {
                log::error(call, format!("cannot serve wss://: {e}"));
                Err(tls_error_code(&e))
            }
        }
    }

    /// Whether `name` is set, refusing a resource and a path at once.
    fn pick(&self, call: &str, name: &str, resource: bool, path: &str) -> Result<bool, Failed> {
        if resource && !path.is_empty() {
            log::error(
                call,
                format!(
                    "both {name} and {name}_path ({path:?}) are set; set one of them and clear \
                     the other"
                ),
            );
            return Err(GodotError::InvalidParameter);
        }
        Ok(resource || !path.is_empty())
    }
}

/// An `X509Certificate` as PEM. Godot 3.2's `X509Certificate.save()` writes the first
/// certificate of a chain once per certificate in it (a Godot bug): when that happens and the
/// resource was loaded from a file, the chain is read from that file instead.
fn certificate_pem(call: &str, name: &str, resource: &Ref<X509Certificate>) -> Result<Pem, Failed> {
    let data = resource_pem(call, name, resource, "crt")?;
    let saved = certificates(&data);
    let repeated = saved.len() > 1 && saved.iter().all(|c| *c == saved[0]);
    if !repeated {
        return Ok(Pem::new(name, data));
    }
    let source = resource_path(resource);
    if !source.is_empty() {
        if let Ok(file) = read_path_quiet(&source) {
            let original = certificates(&file);
            if original.len() == saved.len() && original.first() == saved.first() {
                return Ok(Pem::new(format!("{name} ({source})"), file));
            }
        }
    }
    log::warn(
        call,
        format!(
            "{name} holds a chain of {} certificates, but Godot 3.2's X509Certificate.save() \
             gives only the first one (a Godot bug), so the others are not sent; put the chain \
             in a file and set {name}_path, or load the resource from its file with load()",
            saved.len()
        ),
    );
    Ok(Pem::new(name, data))
}

fn certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .map(|der| der.as_ref().to_vec())
        .collect()
}

/// Saves a certificate or key resource as PEM into memory and returns the PEM.
///
/// Godot 3.2-3.4 resources can only `save(path)` themselves (3.5 gives keys `save_to_string`,
/// which `load` prefers; certificates have nothing like it in 3.x, and are not secret). To get their PEM without leaving key
/// material on disk, the resource is saved (through `ResourceSaver`, which picks the saver by
/// the file extension) to a path in a new private directory (mode 0700) that, on Linux, is a
/// symlink to an anonymous in-memory file (`memfd_create`, as `/proc/self/fd/N`): Godot writes
/// the PEM into memory, we read it back, and the directory and its symlink are removed. Where
/// that cannot work (no memfd or no /proc, or Godot's "safe save" writing a `.tmp` file and
/// renaming it, as in the editor), Godot writes a regular file in that private directory, which
/// only this user can enter; it is read, overwritten with zeros and deleted at once. A process
/// that crashed in between left its directory behind: the directory names its process
/// (`gdws-pem-<pid>-...`), and the next call in any gdws process removes those of processes
/// that are gone (`stale_dirs`).
fn resource_pem<T>(
    call: &str,
    name: &str,
    resource: &Ref<T>,
    extension: &str,
) -> Result<Vec<u8>, Failed>
where
    T: GodotObject<Memory = RefCounted> + SubClass<Resource>,
{
    let failed = |reason: String| {
        log::error(call, format!("cannot turn {name} into PEM: {reason}"));
        GodotError::CantCreate
    };
    let dir = private_dir_builder()
        .prefix(&private_dir_prefix(std::process::id()))
        .tempdir()
        .map_err(|e| failed(format!("no private temporary directory: {e}")))?;
    stale_dirs::remove(dir.path());
    let path = dir.path().join(format!("{name}.{extension}"));
    let Some(godot_path) = path.to_str().map(str::to_owned) else {
        return Err(failed(format!("the temporary path {path:?} is not UTF-8")));
    };
    let in_memory = memory_file::link(&path);
    let saver = ResourceSaver::godot_singleton();
    if let Err(e) = saver.save(godot_path.as_str(), resource, 0) {
        return Err(failed(format!(
            "{}.save() failed with {e:?}",
            if extension == "key" {
                "CryptoKey"
            } else {
                "X509Certificate"
            }
        )));
    }
    let data = read_limited(&path).map_err(|e| failed(format!("cannot read it back: {e}")))?;
    if extension == "key" && !(in_memory.is_some() && memory_file::is_link(&path)) {
        log::warn(
            call,
            format!(
                "{name}: Godot wrote the key's PEM to a file in a private temporary directory \
                 (only this user may enter it) instead of memory, {}; the file is deleted now",
                if in_memory.is_some() {
                    "because it saves through a temporary file and a rename (safe save)"
                } else {
                    "because this system has no anonymous memory files"
                }
            ),
        );
    }
    drop(in_memory);
    zero_files_in(dir.path());
    // Removes the directory and whatever Godot wrote into it.
    dir.close()
        .map_err(|e| failed(format!("cannot remove the temporary directory: {e}")))?;
    Ok(data)
}

/// The name of a private directory made by process `pid` begins with this.
fn private_dir_prefix(pid: u32) -> String {
    format!("{PRIVATE_DIR_PREFIX}{pid}-")
}

const PRIVATE_DIR_PREFIX: &str = "gdws-pem-";

/// Overwrites with zeros every regular file directly in `dir` (what Godot wrote there instead
/// of memory), so that deleting it leaves no key on the disk's free blocks. Best effort: the
/// deletion follows whatever happens here.
fn zero_files_in(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // Not following symlinks: the memory file's link is one.
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_file() {
            let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0)];
            let _ = fs::write(entry.path(), zeros);
        }
    }
}

#[cfg(target_os = "linux")]
mod stale_dirs {
    //! The private directories of gdws processes that are gone: a crash between Godot's save and
    //! the removal leaves one, maybe with a key's PEM in it.
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use super::{zero_files_in, PRIVATE_DIR_PREFIX};

    /// Removes, beside `own` (a private directory this process just made), every directory
    /// named `gdws-pem-<pid>-...` whose process no longer runs and that belongs to the same user,
    /// its files overwritten with zeros first. Symlinks and other users' entries are left alone.
    pub fn remove(own: &Path) {
        let (Some(temp), Ok(own_meta)) = (own.parent(), own.symlink_metadata()) else {
            return;
        };
        let Ok(entries) = fs::read_dir(temp) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(creator_pid) else {
                continue;
            };
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if !meta.is_dir() || meta.uid() != own_meta.uid() || is_running(pid) {
                continue;
            }
            zero_files_in(&entry.path());
            let _ = fs::remove_dir_all(entry.path());
        }
    }

    /// The pid in a private directory's name, `gdws-pem-<pid>-<random>`.
    pub(super) fn creator_pid(name: &str) -> Option<u32> {
        let (pid, _) = name.strip_prefix(PRIVATE_DIR_PREFIX)?.split_once('-')?;
        pid.parse().ok()
    }

    fn is_running(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }
}

#[cfg(not(target_os = "linux"))]
mod stale_dirs {
    /// Without /proc there is no telling whether the process that made a directory is gone:
    /// none is removed.
    pub fn remove(_own: &std::path::Path) {}
}

/// Temporary directories only their owner may enter: mode 0700 on Unix.
#[cfg(unix)]
fn private_dir_builder() -> tempfile::Builder<'static, 'static> {
    use std::os::unix::fs::PermissionsExt;
    let mut builder = tempfile::Builder::new();
    builder.permissions(fs::Permissions::from_mode(0o700));
    builder
}

/// On Windows the temporary directory is the user's own (`%LOCALAPPDATA%\Temp`), whose access
/// list admits only that user, administrators and the system: a directory made in it inherits
/// that list.
#[cfg(windows)]
fn private_dir_builder() -> tempfile::Builder<'static, 'static> {
    tempfile::Builder::new()
}

#[cfg(target_os = "linux")]
mod memory_file {
    //! An anonymous in-memory file, reachable by path through a symlink to `/proc/self/fd/N`.
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::path::Path;

    use rustix::fs::{memfd_create, MemfdFlags};

    /// Makes `path` a symlink to a new memfd; the memfd lives as long as the returned handle.
    /// `None` (and no symlink) where that is not possible: Godot then writes a regular file.
    pub fn link(path: &Path) -> Option<OwnedFd> {
        let fd = memfd_create("gdws-pem", MemfdFlags::CLOEXEC).ok()?;
        let target = format!("/proc/self/fd/{}", fd.as_raw_fd());
        if !Path::new(&target).exists() {
            return None;
        }
        std::os::unix::fs::symlink(&target, path).ok()?;
        Some(fd)
    }

    /// Whether `path` is still the symlink `link` made: what was written to it went to memory.
    /// A save that wrote a new file and renamed it over the path leaves a regular file.
    pub fn is_link(path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
    }
}

#[cfg(not(target_os = "linux"))]
mod memory_file {
    /// What `link` would return: there is none.
    pub enum NoMemoryFile {}

    /// No anonymous in-memory files here: Godot writes a regular file in the private directory.
    pub fn link(_path: &std::path::Path) -> Option<NoMemoryFile> {
        None
    }

    pub fn is_link(_path: &std::path::Path) -> bool {
        false
    }
}

/// Reads a PEM file named by a `*_path` property: `res://` and `user://` through Godot (so that
/// exported games can read from their pack), anything else from the file system.
fn read_path(call: &str, property: &str, path: &str) -> Result<Pem, Failed> {
    let label = format!("{property} ({path:?})");
    match read_path_quiet(path) {
        Ok(data) => Ok(Pem::new(label, data)),
        Err((code, reason)) => {
            log::error(call, format!("cannot read {label}: {reason}"));
            Err(code)
        }
    }
}

fn read_path_quiet(path: &str) -> Result<Vec<u8>, (GodotError, String)> {
    if path.starts_with("res://") || path.starts_with("user://") {
        return read_godot_file(path);
    }
    read_limited(Path::new(path)).map_err(|e| (io_error_code(e.kind()), e.to_string()))
}

/// The Godot `Error` for a file that could not be read, by its cause.
fn io_error_code(kind: std::io::ErrorKind) -> GodotError {
    match kind {
        std::io::ErrorKind::NotFound => GodotError::FileNotFound,
        std::io::ErrorKind::PermissionDenied => GodotError::FileNoPermission,
        std::io::ErrorKind::InvalidData => GodotError::InvalidData,
        _ => GodotError::FileCantOpen,
    }
}

/// The whole file, refusing anything larger than a certificate chain could be.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let size = fs::metadata(path)?.len();
    check_pem_size(size)
        .map_err(|reason| std::io::Error::new(std::io::ErrorKind::InvalidData, reason))?;
    fs::read(path)
}

/// Refuses a file larger than a certificate chain could be.
fn check_pem_size(size: u64) -> Result<(), String> {
    if size > MAX_PEM_BYTES as u64 {
        return Err(format!(
            "it has {size} bytes: too large for a PEM certificate or key"
        ));
    }
    Ok(())
}

fn read_godot_file(path: &str) -> Result<Vec<u8>, (GodotError, String)> {
    let file = File::new();
    if let Err(e) = file.open(path, File::READ) {
        let reason = match e {
            GodotError::FileNotFound => "no such file".to_owned(),
            other => format!("cannot open it ({other:?})"),
        };
        return Err((e, reason));
    }
    let len = file.get_len();
    // A negative length (a failed query) counts as too large.
    if let Err(reason) = check_pem_size(u64::try_from(len).unwrap_or(u64::MAX)) {
        file.close();
        return Err((GodotError::InvalidData, reason));
    }
    let mut buffer = file.get_buffer(len);
    file.close();
    let data = pool::read(&buffer, <[u8]>::to_vec);
    // The file may be a key: Godot's copy is overwritten before Godot frees it.
    pool::fill(&mut buffer, 0);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn what_is_written_through_the_memory_link_stays_in_memory() {
        let dir = private_dir_builder().tempdir().unwrap();
        let path = dir.path().join("private_key.key");
        let memory = memory_file::link(&path).expect("memfd and /proc here");
        fs::write(&path, b"-----BEGIN PRIVATE KEY-----").unwrap();
        assert_eq!(read_limited(&path).unwrap(), b"-----BEGIN PRIVATE KEY-----");
        assert!(memory_file::is_link(&path), "the write replaced the link");
        // The directory holds the link alone: no file with the data is on disk.
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
        drop(memory);

        // A save through a new file and a rename (safe save) is seen.
        let renamed = dir.path().join("private_key.key.tmp");
        fs::write(&renamed, b"key").unwrap();
        fs::rename(&renamed, &path).unwrap();
        assert!(!memory_file::is_link(&path));
    }

    /// Above Linux's largest pid (PID_MAX_LIMIT, 2^22): never a running process.
    #[cfg(target_os = "linux")]
    const NO_SUCH_PID: u32 = 1 << 22;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_private_directories_of_processes_that_are_gone_are_removed_with_their_files() {
        let temp = private_dir_builder().tempdir().unwrap();
        let make = |pid: u32| {
            let dir = private_dir_builder()
                .prefix(&private_dir_prefix(pid))
                .tempdir_in(temp.path())
                .unwrap()
                .keep();
            fs::write(dir.join("private_key.key"), b"-----BEGIN PRIVATE KEY-----").unwrap();
            dir
        };
        let stale = make(NO_SUCH_PID);
        let ours = make(std::process::id());
        let outside = temp.path().join("gdws-pem-notes");
        fs::create_dir(&outside).unwrap();
        let link = temp.path().join(format!("gdws-pem-{NO_SUCH_PID}-link"));
        std::os::unix::fs::symlink(&outside, &link).unwrap();

        let own = private_dir_builder()
            .prefix(&private_dir_prefix(std::process::id()))
            .tempdir_in(temp.path())
            .unwrap();
        stale_dirs::remove(own.path());
        assert!(
            !stale.exists(),
            "the directory of a process that is gone stays"
        );
        assert!(
            ours.join("private_key.key").exists(),
            "a running process's directory went"
        );
        assert!(
            outside.exists() && link.symlink_metadata().is_ok(),
            "not ours to remove"
        );
        assert_eq!(stale_dirs::creator_pid("gdws-pem-123-abc"), Some(123));
        assert_eq!(stale_dirs::creator_pid("gdws-pem-notes"), None);
    }

    #[test]
    fn a_file_written_instead_of_memory_is_zeroed_before_it_is_deleted() {
        let dir = private_dir_builder().tempdir().unwrap();
        let key = dir.path().join("private_key.key");
        fs::write(&key, b"-----BEGIN PRIVATE KEY-----").unwrap();
        zero_files_in(dir.path());
        assert_eq!(fs::read(&key).unwrap(), [0u8; 27]);
    }

    #[cfg(unix)]
    #[test]
    fn the_private_directory_is_the_owner_s_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir_builder().tempdir().unwrap();
        let mode = fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn os_paths_fail_with_the_error_code_of_their_cause() {
        let dir = private_dir_builder().tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let code = |path: &Path| read_path_quiet(path.to_str().unwrap()).map_err(|(code, _)| code);
        assert_eq!(code(&missing), Err(GodotError::FileNotFound));
        assert_eq!(code(dir.path()), Err(GodotError::FileCantOpen));
        let large = dir.path().join("large.pem");
        fs::write(&large, vec![b'a'; MAX_PEM_BYTES + 1]).unwrap();
        assert_eq!(code(&large), Err(GodotError::InvalidData));
        let largest = dir.path().join("largest.pem");
        fs::write(&largest, vec![b'a'; MAX_PEM_BYTES]).unwrap();
        assert_eq!(code(&largest).map(|data| data.len()), Ok(MAX_PEM_BYTES));
    }

    #[test]
    fn a_file_the_user_may_not_read_is_err_file_no_permission() {
        // Root reads every file, so this cause is checked on the mapping alone.
        use std::io::ErrorKind;
        assert_eq!(
            io_error_code(ErrorKind::PermissionDenied),
            GodotError::FileNoPermission
        );
        assert_eq!(io_error_code(ErrorKind::NotFound), GodotError::FileNotFound);
        assert_eq!(
            io_error_code(ErrorKind::InvalidData),
            GodotError::InvalidData
        );
        assert_eq!(
            io_error_code(ErrorKind::IsADirectory),
            GodotError::FileCantOpen
        );
    }

    #[test]
    fn the_certificates_of_a_pem_are_read_in_order_and_garbage_has_none() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
            -----BEGIN PRIVATE KEY-----\nBAUG\n-----END PRIVATE KEY-----\n\
            -----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n";
        assert_eq!(certificates(pem), [vec![0, 1, 2], vec![3, 4, 5]]);
        assert!(certificates(b"not a pem").is_empty());
    }
}
