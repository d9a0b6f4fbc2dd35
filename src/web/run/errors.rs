//! Error wording: a source failure as a headline, a message and the ways out.

use crate::pure::source::detect::DetectError;
use crate::pure::source::format::FormatError;
use crate::pure::source::hub::HubError;
use crate::pure::source::offline::OfflineError;
use crate::pure::source::transfer::TransferError;
use crate::pure::url_state::ViewSettings;
use crate::web::io::source::SourceError;
use crate::web::platform::fetch::FetchError;
use crate::web::run::state::ErrorInfo;

/// Upper-cases the first letter of a message, so that it reads as a sentence.
pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Turns a source failure into a headline, a message and the ways out; `None` for a cancelled
/// run, which is not a failure.
pub(super) fn describe_source_error(err: &SourceError) -> Option<ErrorInfo> {
    let kind = err.kind()?;
    let message = capitalise(&err.to_string());
    let hub_error = match err {
        SourceError::Fetch(FetchError::Hub(hub)) | SourceError::Hub(hub) => Some(hub),
        _ => None,
    };
    let (title, offer_sample, offer_picker) = match (err, hub_error) {
        (_, Some(HubError::NotFound { .. })) => ("Not found (404)", false, false),
        (_, Some(HubError::RepoNotFound { .. })) => ("No such repository", false, false),
        (_, Some(HubError::RequestedFileMissing { .. })) => {
            ("No such file in this revision", false, false)
        }
        (_, Some(HubError::Gated { .. })) => ("Gated or private repository", true, false),
        (_, Some(HubError::Network { .. })) => (
            "The Hub cannot be reached (offline, or no server at this address)",
            true,
            false,
        ),
        (_, Some(HubError::CorsRefused { .. })) => (
            "The server does not let web pages read its files (CORS)",
            true,
            false,
        ),
        (_, Some(HubError::RateLimited { .. })) => ("Rate limited", true, false),
        (_, Some(HubError::ServerError { .. })) => ("The server failed", true, false),
        (SourceError::Fetch(FetchError::Transfer(TransferError::Changed { .. })), _) => {
            ("The file changed while reading", false, false)
        }
        (SourceError::Fetch(FetchError::Transfer(TransferError::KeptDropping { .. })), _) => {
            ("The connection kept dropping", true, false)
        }
        (SourceError::Fetch(FetchError::Transfer(TransferError::GaveUp { cause, .. })), _) => {
            match cause {
                HubError::RateLimited { .. } => ("Rate limited", true, false),
                _ => ("The server failed", true, false),
            }
        }
        (SourceError::Hub(_), _) | (_, Some(_)) => {
            ("The Hub's answer could not be used", true, false)
        }
        (SourceError::Detect(DetectError::NoPositionalEmbedding { .. }), _) => {
            ("No positional embedding found", false, true)
        }
        (SourceError::Detect(_), _) => ("This tensor cannot be analysed", false, true),
        (SourceError::Format(FormatError::TensorTooLarge { .. }), _) => {
            ("Tensor too large", false, true)
        }
        (SourceError::Format(FormatError::MissingTensor { .. }), _) => {
            ("No such tensor", false, true)
        }
        (SourceError::Format(_), _) => ("Not a safetensors file", false, false),
        (SourceError::Shards(_), _) => ("Unusable shard index", false, false),
        (SourceError::LocalRead { .. }, _) => ("The local file could not be read", false, false),
        (SourceError::Offline(OfflineError::Unreachable { .. }), _) => (
            "The Hub cannot be reached (offline, or no server at this address)",
            true,
            false,
        ),
        (SourceError::Offline(_), _) => ("Not available offline", true, false),
        (SourceError::Cancelled(_), _) => return None,
        (SourceError::Fetch(_), _) => ("The download failed", true, false),
    };
    Some(ErrorInfo {
        kind,
        title: title.to_owned(),
        message,
        offer_sample,
        offer_picker,
    })
}

/// Names the repository and revision asked for in a Hub 404's message, which otherwise
/// names them only inside the URL that failed.
pub(super) fn name_revision(
    mut info: ErrorInfo,
    err: &SourceError,
    settings: &ViewSettings,
) -> ErrorInfo {
    if let SourceError::Fetch(FetchError::Hub(HubError::NotFound { .. }))
    | SourceError::Hub(HubError::NotFound { .. }) = err
    {
        let stop = if info.message.ends_with('.') { "" } else { "." };
        info.message = format!(
            "{}{stop} Asked for: revision `{}` of `{}`.",
            info.message, settings.rev, settings.repo
        );
    }
    info
}
