//! File transfers: RETR, STOR, APPE and STOU, their locks, and what happens when the shell reports a transfer done.

use super::*;

impl LoggedIn {
    /// What the transfer logs say about moving `arg` in `direction`; the shell completes it.
    pub(super) fn transfer_record(&self, arg: &[u8], direction: Direction) -> TransferRecord {
        let user = &self.user;
        TransferRecord {
            start: UnixTime::default(),
            duration: Duration::ZERO,
            remote_ip: self.peer.ip(),
            bytes: 0,
            path: self.log_path(arg),
            direction,
            ascii: self.ascii,
            access: user.access,
            user: user.shown_name.clone(),
            anon_password: user.anon_password.clone(),
            complete: false,
        }
    }

    /// A RETR refused once vsftpd has begun its log entry (after the data connection and
    /// ASCII-resume checks): logged as a failed download, `FAIL DOWNLOAD` with no bytes and
    /// xferlog's `i`, as vsftpd logs it.
    fn failed_download(&self, arg: &[u8], now: UnixTime, reply: FixedReply) -> Vec<Action> {
        let record = TransferRecord {
            start: now,
            ..self.transfer_record(arg, Direction::Outgoing)
        };
        vec![
            Action::Reply(reply.reply()),
            Action::Log(Box::new(LogEvent::Transfer(record))),
        ]
    }

    /// Takes the data setup for one transfer: vsftpd wants a new PASV or PORT for each.
    pub(super) fn start_transfer(
        &mut self,
        kind: TransferKind,
        opening: Reply,
        job: DataJob,
        record: Option<TransferRecord>,
    ) -> Vec<Action> {
        let channel = match self.data {
            DataSetup::Passive { ready: true, .. } => DataChannel::Passive {
                check_peer: !self.config.pasv_promiscuous,
            },
            DataSetup::Active(target) => DataChannel::Active(target),
            _ => return say(replies::USE_PORT_OR_PASV_FIRST),
        };
        self.data = DataSetup::None;
        self.transfer = Some(kind);
        let max_rate = if self.user.anonymous {
            self.config.anon_max_rate
        } else {
            self.config.local_max_rate
        };
        vec![Action::Transfer(Box::new(Transfer {
            channel,
            opening,
            job,
            record,
            max_rate: u64::from(max_rate),
            private: self.security.data,
        }))]
    }

    pub(super) fn transfer_finished(
        &mut self,
        outcome: TransferOutcome,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let Some(kind) = self.transfer.take() else {
            return Vec::new();
        };
        let upload = kind == TransferKind::Upload;
        let outcome = match self.upload.take() {
            Some(upload) => match self.settle_upload(*upload, outcome, fs) {
                Ok(outcome) => outcome,
                Err(refusal) => return say(refusal),
            },
            None => outcome,
        };
        match outcome {
            TransferOutcome::Complete { .. } if kind == TransferKind::UnopenedListing => {
                say(replies::LISTING_FAILED_TO_OPEN_DIRECTORY)
            }
            TransferOutcome::Complete { .. } if kind == TransferKind::Listing => {
                say(replies::DIRECTORY_SEND_OK)
            }
            TransferOutcome::Complete { .. } => say(replies::TRANSFER_COMPLETE),
            TransferOutcome::NoConnection => say(replies::FAILED_TO_ESTABLISH_CONNECTION),
            TransferOutcome::NetworkFailed { .. } if upload => say(replies::READ_NETWORK_FAILED),
            TransferOutcome::NetworkFailed { .. } => say(replies::WRITE_NETWORK_FAILED),
            TransferOutcome::FileFailed { .. } if upload => say(replies::WRITE_LOCAL_FILE_FAILED),
            TransferOutcome::FileFailed { .. } => say(replies::READ_LOCAL_FILE_FAILED),
            TransferOutcome::NoSpace { .. } => say(replies::INSUFFICIENT_STORAGE),
            // RFC 959: the aborted command's 426, then the 226 that closes ABOR.
            TransferOutcome::Aborted { .. } => {
                let failure = if upload {
                    replies::READ_NETWORK_FAILED
                } else {
                    replies::WRITE_NETWORK_FAILED
                };
                vec![
                    Action::Reply(failure.reply()),
                    Action::Reply(replies::ABORT_OK.reply()),
                ]
            }
            TransferOutcome::TimedOut { .. } => {
                vec![Action::Reply(replies::DATA_TIMEOUT.reply()), Action::Close]
            }
            // vsftpd ends the session when a data connection did not resume the control
            // connection's TLS session: it may come from whoever stole the data port.
            // vsftpd words a certificate that differs from the control connection's as a
            // missing reuse, and ends the session for it too under `require_ssl_reuse`.
            TransferOutcome::TlsFailed(
                DataTlsFailure::NotResumed | DataTlsFailure::OtherCertificate,
            ) if self.config.require_ssl_reuse => vec![
                Action::Reply(replies::DATA_TLS_NOT_RESUMED.reply()),
                Action::Close,
            ],
            TransferOutcome::TlsFailed(_) => say(replies::DATA_TLS_FAILED),
        }
    }

    /// Puts a finished upload in its place, or cleans up after a failed one: an atomic
    /// upload is put in place only when complete (a failed one never touches the old file);
    /// otherwise `delete_failed_uploads` removes what a failure left. An atomic upload whose
    /// name someone else took meanwhile, when it may not replace, gets vsftpd's refusal of a
    /// file it could not create.
    pub(super) fn settle_upload(
        &mut self,
        upload: PendingUpload,
        outcome: TransferOutcome,
        fs: &dyn SessionFs,
    ) -> Result<TransferOutcome, FixedReply> {
        let complete = matches!(outcome, TransferOutcome::Complete { .. });
        match (upload.staging, complete) {
            (Some(staging), true) => match fs.commit_upload(staging) {
                Ok(()) => Ok(outcome),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(replies::COULD_NOT_CREATE_FILE)
                }
                Err(_) => Ok(TransferOutcome::FileFailed { bytes: 0 }),
            },
            (Some(staging), false) => {
                fs.discard_upload(staging);
                Ok(outcome)
            }
            (None, false) if self.config.delete_failed_uploads => {
                let _ = fs.unlink(&upload.target);
                Ok(outcome)
            }
            (None, _) => Ok(outcome),
        }
    }

    pub(super) fn retrieve(
        &mut self,
        arg: &[u8],
        now: UnixTime,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let offset = std::mem::take(&mut self.restart_offset);
        if let Some(refusal) = self.data_refusal() {
            return say(refusal);
        }
        if self.ascii && offset != 0 {
            return say(replies::NO_ASCII_RESUME);
        }
        let Some(path) = self.path_argument(arg) else {
            return self.failed_download(arg, now, replies::FAILED_TO_OPEN_FILE);
        };
        if self.denied(&path) {
            return self.failed_download(arg, now, replies::NO_PERMISSION);
        }
        // Opening first and checking what was opened is one lookup fewer, and a file opened
        // but refused is closed unread.
        let Ok(download) = fs.open_download(&path) else {
            // vsftpd drops the log entry of a RETR of a directory (browsers send them).
            if fs.is_dir(&path) {
                return say(replies::FAILED_TO_OPEN_FILE);
            }
            return self.failed_download(arg, now, replies::FAILED_TO_OPEN_FILE);
        };
        let world_readable = download.mode & 0o004 != 0;
        if self.user.anonymous && self.config.anon_world_readable_only && !world_readable {
            return self.failed_download(arg, now, replies::FAILED_TO_OPEN_FILE);
        }
        let ascii = self.ascii && self.config.ascii_download_enable;
        let record = self.transfer_record(arg, Direction::Outgoing);
        let start = FileTransfer::Download {
            name: arg.to_vec(),
            offset,
            ascii,
        };
        let lock = self.file_lock(FileLock::Shared);
        self.start_file_transfer(download.file, lock, record, start, fs)
    }

    /// The lock a transfer takes on its file: with `lock_upload_files`, a shared one for
    /// downloads and an exclusive one for uploads, as vsftpd's.
    pub(super) fn file_lock(&self, kind: FileLock) -> Option<FileLock> {
        self.config.lock_upload_files.then_some(kind)
    }

    /// Starts a file transfer, once the shell has taken `lock` on the file if there is one:
    /// before the 150 reply, as vsftpd locks.
    pub(super) fn start_file_transfer(
        &mut self,
        file: FileHandle,
        lock: Option<FileLock>,
        record: TransferRecord,
        start: FileTransfer,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        match lock {
            Some(kind) => {
                self.awaiting_lock = Some(Box::new(AwaitingLock { record, start }));
                vec![Action::Lock(LockRequest { file, kind })]
            }
            None => self.begin_file_transfer(file, record, start, fs),
        }
    }

    pub(super) fn file_locked(
        &mut self,
        file: FileHandle,
        locked: bool,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let Some(awaiting) = self.awaiting_lock.take() else {
            return Vec::new();
        };
        let AwaitingLock { record, start } = *awaiting;
        if locked {
            return self.begin_file_transfer(file, record, start, fs);
        }
        // Nothing has been written: an upload's file is left as it was.
        self.abandon_upload(fs);
        match start {
            FileTransfer::Download { .. } => say(replies::FAILED_TO_OPEN_FILE),
            FileTransfer::Upload { .. } => say(replies::COULD_NOT_CREATE_FILE),
        }
    }

    /// Gives up the upload in progress: an atomic one's staged file is removed, never left
    /// behind.
    pub(super) fn abandon_upload(&mut self, fs: &dyn SessionFs) {
        if let Some(staging) = self.upload.take().and_then(|upload| upload.staging) {
            fs.discard_upload(staging);
        }
    }

    pub(super) fn begin_file_transfer(
        &mut self,
        file: FileHandle,
        record: TransferRecord,
        start: FileTransfer,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        match start {
            FileTransfer::Download {
                name,
                offset,
                ascii,
            } => {
                // The size as it is now the file is locked, as vsftpd's 150 gives it: an
                // upload that held the lock has finished.
                let Ok(size) = fs.size_of(&file) else {
                    return say(replies::FAILED_TO_OPEN_FILE);
                };
                let opening = replies::opening_data_connection(ascii, &name, size);
                let job = DataJob::Download {
                    file,
                    offset,
                    ascii,
                };
                self.start_transfer(TransferKind::Download, opening, job, Some(record))
            }
            FileTransfer::Upload {
                opening,
                truncate,
                ascii,
                sync,
            } => {
                if truncate && fs.truncate(&file).is_err() {
                    self.upload = None;
                    return say(replies::COULD_NOT_CREATE_FILE);
                }
                let job = DataJob::Upload { file, ascii, sync };
                self.start_transfer(TransferKind::Upload, opening, job, Some(record))
            }
        }
    }

    pub(super) fn file_mode(&self) -> u32 {
        self.config.file_open_mode & !self.user.umask & 0o7777
    }

    pub(super) fn store(&mut self, arg: &[u8], append: bool, fs: &dyn SessionFs) -> Vec<Action> {
        let offset = std::mem::take(&mut self.restart_offset);
        if let Some(refusal) = self.data_refusal() {
            return say(refusal);
        }
        let Some(path) = self.path_argument(arg) else {
            return say(replies::COULD_NOT_CREATE_FILE);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let may_overwrite = !self.user.anonymous || self.config.anon_other_write_enable;
        let how = match (append, offset, may_overwrite) {
            (true, _, _) => WriteHow::Append,
            (false, _, false) => WriteHow::CreateNew,
            (false, 0, true) => WriteHow::Truncate,
            (false, offset, true) => WriteHow::Offset(offset),
        };
        // Atomic uploads are written aside and replace the target only when complete;
        // appends and resumed uploads continue the real file.
        let atomic =
            self.config.atomic_uploads && matches!(how, WriteHow::Truncate | WriteHow::CreateNew);
        let (file, staging, lock, truncate) = if atomic {
            let Ok(StagedUpload { file, staging }) =
                fs.stage_upload(&path, self.file_mode(), how == WriteHow::Truncate)
            else {
                return say(replies::COULD_NOT_CREATE_FILE);
            };
            // The staged file is opened by nobody else, and readers of the target get the
            // old file or the whole new one, never a partial one: what vsftpd's lock is for
            // already holds, so there is nothing to lock. Locking the target instead would
            // only hold its readers up, to then serve them the old file they had opened.
            (file, Some(staging), None, false)
        } else {
            let lock = self.file_lock(FileLock::Exclusive);
            // vsftpd empties the file only once it holds the lock, so a download that has it
            // locked never sees the file shrink under it.
            let truncate = lock.is_some() && how == WriteHow::Truncate;
            let how = if truncate { WriteHow::Offset(0) } else { how };
            let Ok(file) = fs.open_upload(&path, how, self.file_mode()) else {
                return say(replies::COULD_NOT_CREATE_FILE);
            };
            (file, None, lock, truncate)
        };
        if !self.give_upload_away(&file, fs) {
            if let Some(staging) = staging {
                fs.discard_upload(staging);
            } else if how == WriteHow::CreateNew {
                let _ = fs.unlink(&path);
            }
            return say(replies::COULD_NOT_CREATE_FILE);
        }
        let sync = staging.is_some();
        self.upload = Some(Box::new(PendingUpload {
            staging,
            target: path,
        }));
        let record = self.transfer_record(arg, Direction::Incoming);
        let start = FileTransfer::Upload {
            opening: replies::OK_TO_SEND_DATA.reply(),
            truncate,
            ascii: self.ascii && self.config.ascii_upload_enable,
            sync,
        };
        self.start_file_transfer(file, lock, record, start, fs)
    }

    /// `chown_uploads`: an anonymous upload belongs to `chown_username` with
    /// `chown_upload_mode`, given away as vsftpd's privileged process does.
    pub(super) fn give_upload_away(&self, file: &FileHandle, fs: &dyn SessionFs) -> bool {
        let Some(uid) = self.context.chown_uid.filter(|_| self.user.anonymous) else {
            return true;
        };
        fs.give_away(file, uid, self.config.chown_upload_mode)
            .is_ok()
    }

    pub(super) fn store_unique(&mut self, base: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.restart_offset = 0;
        if let Some(refusal) = self.data_refusal() {
            return say(refusal);
        }
        let cwd = self.user.cwd.clone();
        if !base.is_empty() && self.denied(&self.resolve(base)) {
            return say(replies::NO_PERMISSION);
        }
        let Ok((file, vpath)) = fs.create_unique(&cwd, base, self.file_mode()) else {
            return say(replies::COULD_NOT_CREATE_FILE);
        };
        if !self.give_upload_away(&file, fs) {
            let _ = fs.unlink(&vpath);
            return say(replies::COULD_NOT_CREATE_FILE);
        }
        let name = vpath
            .rsplit(|&byte| byte == b'/')
            .next()
            .unwrap_or(&vpath)
            .to_vec();
        self.upload = Some(Box::new(PendingUpload {
            staging: None,
            target: vpath.clone(),
        }));
        let record = self.transfer_record(&name, Direction::Incoming);
        let start = FileTransfer::Upload {
            opening: replies::unique_file(&name),
            truncate: false,
            ascii: self.ascii && self.config.ascii_upload_enable,
            sync: false,
        };
        let lock = self.file_lock(FileLock::Exclusive);
        self.start_file_transfer(file, lock, record, start, fs)
    }
}

#[cfg(test)]
mod tests;
