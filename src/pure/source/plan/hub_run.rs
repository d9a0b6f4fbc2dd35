//! The read plan of a Hub run ([`HubPlan`]): see the [plan module](super).

use crate::pure::source::detect::{self, DetectError};
use crate::pure::source::format::FormatError;
use crate::pure::source::hub::{self, HubError, RevisionInfo};
use crate::pure::source::offline::{self, HubLookup, SavedIndex};
use crate::pure::source::shards;
use crate::pure::source::Origin;

use super::{
    choose_file, saved_file, Answer, FailureClass, FileLocation, Formats, HeaderPlan, HeaderStep,
    PlanError, PlannedFile, Read, ReadWhat, Step, WeightsFile,
};

/// Which Hub file to read and at which revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubQuery {
    /// The Hub address.
    pub hub: String,
    /// The repository id.
    pub repo: String,
    /// The revision asked for.
    pub rev: String,
    /// The file asked for, if any.
    pub file: Option<String>,
    /// The tensor asked for, if any (needed to pick a shard).
    pub tensor: Option<String>,
}

impl HubQuery {
    /// The query as a lookup among saved entries.
    fn lookup(&self) -> HubLookup<'_> {
        HubLookup {
            hub: &self.hub,
            repo: &self.repo,
            file: self.file.as_deref(),
            tensor: self.tensor.as_deref(),
        }
    }
}

/// Where a [`HubPlan`] is.
#[derive(Debug, Clone)]
enum Stage {
    /// Nothing read yet.
    Start,
    /// Waiting for a saved entry; `fallback` says whether a failure goes on to the network.
    Saved {
        /// The note for an offline answer.
        note: Option<String>,
        /// Whether a failure goes on with the network (after the revision listing named it).
        fallback: bool,
    },
    /// Waiting for the revision listing.
    Revision,
    /// Waiting for a shard index at `index_path`.
    Index {
        /// The index's path in the repository.
        index_path: String,
        /// The 404 of `model.safetensors` that led here, reported if the index is missing too.
        earlier_404: bool,
    },
    /// Waiting for a file's prefix or header.
    File {
        /// The file's path.
        path: String,
        /// Its URL.
        url: String,
        /// The header read.
        header: HeaderPlan,
        /// Whether a 404 of its prefix goes on with the safetensors index.
        index_on_404: bool,
    },
    /// Done or failed.
    Over,
}

/// The read plan of a Hub run: see the [plan module](crate::pure::source::plan).
#[derive(Debug, Clone)]
pub struct HubPlan<E> {
    /// What was asked for.
    query: HubQuery,
    /// The saved entries.
    index: SavedIndex,
    /// Whether the browser says it is online.
    online: bool,
    /// Which formats may be chosen.
    formats: Formats,
    /// Where the plan is.
    stage: Stage,
    /// The revision listing, once answered.
    info: Option<RevisionInfo>,
    /// What the revision listing's failure said, when it got no answer at all.
    unreachable: Option<String>,
    /// The commit the reads are pinned to, once known.
    commit_sha: Option<String>,
    /// The revision file URLs are made at (the commit, once known).
    pinned_rev: String,
    /// The tensor a shard index chose.
    shard_tensor: Option<String>,
    /// A 404 kept to report when the fallback fails the same way.
    kept_404: Option<E>,
}

impl<E: std::fmt::Display> HubPlan<E> {
    /// A plan for `query`, with the saved entries and whether the browser says it is online.
    pub fn new(query: HubQuery, index: SavedIndex, online: bool, formats: Formats) -> Self {
        let pinned_rev = query.rev.clone();
        HubPlan {
            query,
            index,
            online,
            formats,
            stage: Stage::Start,
            info: None,
            unreachable: None,
            commit_sha: None,
            pinned_rev,
            shard_tensor: None,
            kept_404: None,
        }
    }

    /// Whether the run will most likely read the tensor from the network: the plan goes to the
    /// network and this revision was never saved (so the analysis workers are worth starting
    /// while the requests run).
    pub fn expects_network(&self) -> bool {
        let lookup = self.query.lookup();
        matches!(
            offline::plan_hub_run(
                &self.index,
                &lookup,
                &self.query.rev,
                hub::is_commit_sha(&self.query.rev),
                self.online
            ),
            offline::HubPlan::Network
        ) && self.index.for_rev(&lookup, &self.query.rev).is_empty()
    }

    /// The first step.
    pub fn start(&mut self) -> Step<PlannedFile, E> {
        let lookup = self.query.lookup();
        let decision = offline::plan_hub_run(
            &self.index,
            &lookup,
            &self.query.rev,
            hub::is_commit_sha(&self.query.rev),
            self.online,
        );
        match decision {
            offline::HubPlan::Saved { entry_id } => self.read_saved(entry_id, None, false),
            offline::HubPlan::SavedOffline { entry_id, note } => {
                self.read_saved(entry_id, Some(note), false)
            }
            offline::HubPlan::Unavailable(err) => self.fail(err.into()),
            offline::HubPlan::Network => {
                self.stage = Stage::Revision;
                Step::Read(Read::Whole {
                    url: hub::revision_api_url(&self.query.hub, &self.query.repo, &self.query.rev),
                    what: ReadWhat::Revision,
                })
            }
        }
    }

    /// Feeds the answer to the last read: the next step.
    pub fn feed(&mut self, answer: Answer<E>) -> Step<PlannedFile, E> {
        let stage = std::mem::replace(&mut self.stage, Stage::Over);
        match stage {
            Stage::Start | Stage::Over => self.fail(PlanError::WrongAnswer { asked: "nothing" }),
            Stage::Saved { note, fallback } => self.on_saved(answer, note, fallback),
            Stage::Revision => self.on_revision(answer),
            Stage::Index {
                index_path,
                earlier_404,
            } => self.on_index(answer, &index_path, earlier_404),
            Stage::File {
                path,
                url,
                header,
                index_on_404,
            } => self.on_file(answer, path, url, header, index_on_404),
        }
    }

    fn fail(&mut self, error: PlanError<E>) -> Step<PlannedFile, E> {
        self.stage = Stage::Over;
        Step::Failed(error)
    }

    fn read_saved(
        &mut self,
        entry_id: String,
        note: Option<String>,
        fallback: bool,
    ) -> Step<PlannedFile, E> {
        self.stage = Stage::Saved { note, fallback };
        Step::Read(Read::Saved { entry_id })
    }

    fn on_saved(
        &mut self,
        answer: Answer<E>,
        note: Option<String>,
        fallback: bool,
    ) -> Step<PlannedFile, E> {
        let opened = match answer {
            Answer::Saved { prefix, entries } => saved_file(&prefix, entries),
            Answer::Failed { error, .. } => Err(PlanError::Read(error)),
            Answer::Bytes(_) => Err(PlanError::WrongAnswer {
                asked: "a saved entry",
            }),
        };
        match opened {
            Ok(mut file) => {
                self.stage = Stage::Over;
                file.offline_note = note;
                Step::Done(Box::new(file))
            }
            // The branch still pointed at a saved commit, but its bytes are gone: the network.
            Err(_) if fallback => self.choose(),
            Err(err) => self.fail(err),
        }
    }

    fn on_revision(&mut self, answer: Answer<E>) -> Step<PlannedFile, E> {
        match answer {
            Answer::Bytes(received) => {
                self.info = hub::parse_revision_info(&received.bytes).ok();
            }
            // The Hub answers 401 to anonymous visitors for a repository that does not exist
            // (or is private): say so, rather than calling it gated.
            Answer::Failed {
                class: FailureClass::Gated { status },
                ..
            } => {
                let url = hub::revision_api_url(&self.query.hub, &self.query.repo, &self.query.rev);
                return self.fail(
                    HubError::RepoNotFound {
                        status,
                        url,
                        repo: self.query.repo.clone(),
                    }
                    .into(),
                );
            }
            Answer::Failed {
                class: FailureClass::Unreachable,
                error,
            } => {
                // navigator.onLine said online, but nothing answers: treat it as offline.
                let lookup = self.query.lookup();
                match offline::plan_hub_run(&self.index, &lookup, &self.query.rev, false, false) {
                    offline::HubPlan::SavedOffline { entry_id, note } => {
                        return self.read_saved(entry_id, Some(note), false)
                    }
                    offline::HubPlan::Saved { entry_id } => {
                        return self.read_saved(entry_id, None, false)
                    }
                    // Nothing saved either. Some mirrors answer files but not the API, so try
                    // the file URLs; if they cannot be reached either, say nothing is saved.
                    _ => self.unreachable = Some(error.to_string()),
                }
            }
            // Any other failure: the file URLs and their `X-Repo-Commit` are the fallback.
            Answer::Failed { .. } => {}
            Answer::Saved { .. } => {
                return self.fail(PlanError::WrongAnswer {
                    asked: "the revision listing",
                })
            }
        }
        if let Some(info) = &self.info {
            self.commit_sha = Some(info.sha.clone());
            self.pinned_rev = info.sha.clone();
            let lookup = self.query.lookup();
            if let Some(entry_id) = offline::plan_after_resolve(&self.index, &lookup, &info.sha) {
                // The branch still points at a saved commit: no file request at all.
                return self.read_saved(entry_id, None, true);
            }
        }
        self.choose()
    }

    /// Chooses the weights file and asks for its first read.
    fn choose(&mut self) -> Step<PlannedFile, E> {
        let files = self.info.as_ref().map(|info| info.files.as_slice());
        let choice = match choose_file(files, self.query.file.as_deref(), self.formats) {
            Ok(choice) => choice,
            Err(err) => return self.fail(err.into()),
        };
        match choice {
            WeightsFile::Safetensors(path) => {
                // Without the file list, a missing model.safetensors may mean a sharded model.
                let index_on_404 = self.info.is_none() && self.query.file.is_none();
                self.open_file(path, index_on_404)
            }
            WeightsFile::SafetensorsIndex(path) => self.read_index(path, false),
            WeightsFile::TorchBin(path) | WeightsFile::TorchBinIndex(path) => {
                self.fail(HubError::NoStandardWeightsFile { available: path }.into())
            }
        }
    }

    fn url_of(&self, path: &str) -> String {
        hub::resolve_url(&self.query.hub, &self.query.repo, &self.pinned_rev, path)
    }

    fn read_index(&mut self, index_path: String, earlier_404: bool) -> Step<PlannedFile, E> {
        let url = self.url_of(&index_path);
        self.stage = Stage::Index {
            index_path,
            earlier_404,
        };
        Step::Read(Read::Whole {
            url,
            what: ReadWhat::ShardIndex,
        })
    }

    fn open_file(&mut self, path: String, index_on_404: bool) -> Step<PlannedFile, E> {
        let url = self.url_of(&path);
        let header = HeaderPlan::new(None, &url);
        let (range, what) = header.start();
        self.stage = Stage::File {
            path,
            url: url.clone(),
            header,
            index_on_404,
        };
        Step::Read(Read::Range { url, range, what })
    }

    fn on_index(
        &mut self,
        answer: Answer<E>,
        index_path: &str,
        earlier_404: bool,
    ) -> Step<PlannedFile, E> {
        let received = match answer {
            Answer::Bytes(received) => received,
            Answer::Failed { class, error } => {
                // Report the original 404 if the index is missing too.
                let error = match (class, self.kept_404.take()) {
                    (FailureClass::NotFound, Some(kept)) if earlier_404 => kept,
                    _ => error,
                };
                return self.read_failed(class, error);
            }
            Answer::Saved { .. } => {
                return self.fail(PlanError::WrongAnswer {
                    asked: "the shard index",
                })
            }
        };
        if self.commit_sha.is_none() {
            self.commit_sha = received.repo_commit.clone();
        }
        if let Some(sha) = &self.commit_sha {
            self.pinned_rev = sha.clone();
        }
        match self.shard_path(&received.bytes, index_path) {
            Ok(path) => self.open_file(path, false),
            Err(err) => self.fail(err),
        }
    }

    /// The shard holding the tensor (asked for, or detected among the index's names).
    fn shard_path(&mut self, bytes: &[u8], index_path: &str) -> Result<String, PlanError<E>> {
        let index = shards::parse_shard_index(bytes)?;
        let tensor_name = match &self.query.tensor {
            Some(name) => name.clone(),
            None => detect::detect_positional_name(index.tensor_names())
                .map(str::to_owned)
                .ok_or_else(|| DetectError::NoPositionalEmbedding {
                    candidates: index.tensor_names().map(str::to_owned).collect(),
                })?,
        };
        let shard = index
            .shard_for(&tensor_name)
            .ok_or_else(|| FormatError::MissingTensor {
                name: tensor_name.clone(),
                available: index.tensor_names().take(12).map(str::to_owned).collect(),
            })?
            .to_owned();
        self.shard_tensor = Some(tensor_name);
        // The index names a directory-free shard (checked by `shards`); keep its folder.
        Ok(match index_path.rsplit_once('/') {
            Some((folder, _)) => format!("{folder}/{shard}"),
            None => shard,
        })
    }

    fn on_file(
        &mut self,
        answer: Answer<E>,
        path: String,
        url: String,
        mut header: HeaderPlan,
        index_on_404: bool,
    ) -> Step<PlannedFile, E> {
        let received = match answer {
            Answer::Bytes(received) => received,
            Answer::Failed {
                class: FailureClass::NotFound,
                error,
            } if index_on_404 => {
                self.kept_404 = Some(error);
                return self.read_index(hub::SHARDED_INDEX_FILE.to_owned(), true);
            }
            Answer::Failed { class, error } => return self.read_failed(class, error),
            Answer::Saved { .. } => return self.fail(PlanError::WrongAnswer { asked: "a file" }),
        };
        let read = match header.feed(received) {
            Ok(HeaderStep::Read(range, what)) => {
                self.stage = Stage::File {
                    path,
                    url: url.clone(),
                    header,
                    index_on_404,
                };
                return Step::Read(Read::Range { url, range, what });
            }
            Ok(HeaderStep::Done(read)) => read,
            Err(err) => return self.fail(err),
        };
        let commit_sha = self
            .commit_sha
            .clone()
            .or_else(|| read.commit.clone().filter(|sha| hub::is_commit_sha(sha)));
        // Read the tensor at the commit that served the header, so all bytes match.
        let url = match &commit_sha {
            Some(sha) if *sha != self.pinned_rev => {
                hub::resolve_url(&self.query.hub, &self.query.repo, sha, &path)
            }
            _ => url,
        };
        self.stage = Stage::Over;
        Step::Done(Box::new(PlannedFile {
            origin: Origin::Hub,
            location: FileLocation::Network { url },
            file_path: path,
            commit_sha,
            read,
            shard_tensor: self.shard_tensor.take(),
            repo_files: self
                .info
                .as_ref()
                .map(|info| info.files.clone())
                .unwrap_or_default(),
            offline_note: None,
        }))
    }

    /// A file read failed: its error, or offline's "cannot be reached" when neither the
    /// revision listing nor the file got an answer.
    fn read_failed(&mut self, class: FailureClass, error: E) -> Step<PlannedFile, E> {
        match (&self.unreachable, class) {
            (Some(detail), FailureClass::Unreachable) => {
                let detail = detail.clone();
                let err = offline::unreachable(
                    &self.index,
                    &self.query.lookup(),
                    &self.query.rev,
                    &detail,
                );
                self.fail(err.into())
            }
            _ => self.fail(PlanError::Read(error)),
        }
    }
}
