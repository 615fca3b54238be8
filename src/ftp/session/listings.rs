//! Directory listings: LIST, NLST, MLSD, MLST and STAT with a path.

use super::*;

impl LoggedIn {
    /// How this session's listings are made.
    pub(super) fn listing_settings(
        &self,
        args: &[u8],
        format: ListFormat,
        kind: ListKind,
        now: UnixTime,
    ) -> ListingSettings {
        let config = &self.config;
        let mut options = listing::parse_list_args(args, kind);
        // vsftpd's NLST takes LIST's flags (`NLST -l` lists long, `NLST -R` recurses); MLSD
        // has facts instead.
        if format == ListFormat::Machine {
            options.long = false;
        }
        let recursive =
            options.recursive && config.ls_recurse_enable && format != ListFormat::Machine;
        ListingSettings {
            options,
            format,
            framing: if kind == ListKind::Stat {
                Framing::Reply(213)
            } else {
                Framing::Data
            },
            recursive,
            now: now.secs,
            utc_offset: self.context.listing_utc_offset(config),
            owners: listing::Owners::from_config(config),
            hide_file: config.hide_file.clone(),
            facts: self.facts,
            directory_perm: self.permission_facts(EntryKind::Dir),
            file_perm: self.permission_facts(EntryKind::File),
            world_readable_only: self.user.anonymous && config.anon_world_readable_only,
        }
    }

    /// The listing LIST, NLST, MLSD and STAT send for `args`.
    pub(super) fn start_listing(
        &self,
        args: &[u8],
        format: ListFormat,
        kind: ListKind,
        now: UnixTime,
        fs: &dyn SessionFs,
    ) -> Listing {
        let settings = self.listing_settings(args, format, kind, now);
        let target = settings.options.target.clone().unwrap_or_default();
        let resolved = self.resolve(&target);
        if self.denied(&resolved) {
            return Listing::Denied;
        }
        let job = if fs.is_dir(&resolved) {
            let shown = if target.is_empty() {
                b".".to_vec()
            } else {
                target
            };
            ListingJob::directory(fs, settings, &resolved, shown)
        } else {
            let (dir, pattern) = listing::split_list_target(&target);
            ListingJob::matching(fs, settings, &self.resolve(&dir), pattern)
        };
        match job {
            Some(job) => Listing::Started(Box::new(job)),
            None => Listing::Unopened,
        }
    }

    /// RFC 3659's `perm` fact: what this session may do with an entry of `kind`.
    pub(super) fn permission_facts(&self, kind: EntryKind) -> String {
        let config = &self.config;
        let anonymous = self.user.anonymous;
        let write = config.write_enable;
        let other_write = write && (config.anon_other_write_enable || !anonymous);
        let mut perm = String::new();
        if kind == EntryKind::Dir {
            perm.push('e');
            if config.dirlist_enable {
                perm.push('l');
            }
            if write && (config.anon_upload_enable || !anonymous) {
                perm.push('c');
            }
            if write && (config.anon_mkdir_write_enable || !anonymous) {
                perm.push('m');
            }
            if other_write {
                perm.push_str("fdp");
            }
        } else {
            if config.download_enable {
                perm.push('r');
            }
            if other_write {
                perm.push_str("adfw");
            }
        }
        perm
    }

    pub(super) fn list(
        &mut self,
        args: &[u8],
        format: ListFormat,
        now: UnixTime,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        if let Some(refusal) = self.data_refusal() {
            return say(refusal);
        }
        // RFC 3659: MLSD names a directory; anything else is an error, not an empty listing.
        if format == ListFormat::Machine && !fs.is_dir(&self.resolve(args)) {
            return send(Reply::new(550, "Could not list directory."));
        }
        let kind = if format == ListFormat::Names {
            ListKind::Nlst
        } else {
            ListKind::List
        };
        let (job, kind) = match self.start_listing(args, format, kind, now, fs) {
            Listing::Denied => return say(replies::NO_PERMISSION),
            Listing::Unopened => (None, TransferKind::UnopenedListing),
            Listing::Started(job) => (Some(job), TransferKind::Listing),
        };
        let opening = replies::HERE_COMES_DIRECTORY_LISTING.reply();
        self.start_transfer(kind, opening, DataJob::Listing(job), None)
    }

    pub(super) fn machine_list_one(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let Ok(mut entry) = fs.stat(&path) else {
            return send(Reply::new(550, "Could not list file."));
        };
        entry.name = path.clone();
        let facts = listing::mlsx_facts(
            &entry,
            &self.permission_facts(entry.kind.clone()),
            self.facts,
        );
        send(replies::mlst(&path, &facts))
    }

    /// `STAT path`: the listing on the control connection, streamed like LIST's.
    pub(super) fn status_of(&self, arg: &[u8], now: UnixTime, fs: &dyn SessionFs) -> Vec<Action> {
        let listing = match self.start_listing(arg, ListFormat::Long, ListKind::Stat, now, fs) {
            Listing::Denied => return say(replies::NO_PERMISSION),
            Listing::Unopened => None,
            Listing::Started(job) => Some(*job),
        };
        vec![Action::ListingReply(Box::new(ListingReply {
            code: 213,
            first: "Status follows:",
            listing,
            last: "End of status",
        }))]
    }
}

#[cfg(test)]
mod tests;
