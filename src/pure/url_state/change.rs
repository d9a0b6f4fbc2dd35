//! What a change of the settings asks the page to redo.

use super::ViewSettings;

/// What a settings change re-runs, from least to most. Ordered: the change of several
/// settings at once redoes the most any of them needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SettingsChange {
    /// Only how the results are drawn (the rank threshold, the heatmaps' colour clip) or what
    /// is compared beside them (the compare queue follows on its own): no new run.
    ViewOnly,
    /// New analysis options for the same tensor: analyse the open file's bytes again.
    NewOptions,
    /// Another tensor of the open file: read it and analyse it.
    NewTensor,
    /// Another Hub, repository, revision or file: open the source again.
    NewSource,
}

impl SettingsChange {
    /// What going from `old` to `new` re-runs.
    ///
    /// Every field of [`ViewSettings`] is named here (no `..`), so a new setting does not
    /// compile until it says what its change re-runs.
    pub fn between(old: &ViewSettings, new: &ViewSettings) -> SettingsChange {
        let ViewSettings {
            hub,
            repo,
            rev,
            file,
            tensor,
            threshold_rel,
            drop_count,
            drop_axis,
            center_rows,
            k_vectors,
            skip_offset,
            color_clip,
            compare,
        } = new;
        let fields = [
            (*hub != old.hub, SettingsChange::NewSource),
            (*repo != old.repo, SettingsChange::NewSource),
            (*rev != old.rev, SettingsChange::NewSource),
            (*file != old.file, SettingsChange::NewSource),
            (*tensor != old.tensor, SettingsChange::NewTensor),
            (*drop_count != old.drop_count, SettingsChange::NewOptions),
            (*drop_axis != old.drop_axis, SettingsChange::NewOptions),
            (*center_rows != old.center_rows, SettingsChange::NewOptions),
            (*k_vectors != old.k_vectors, SettingsChange::NewOptions),
            (*skip_offset != old.skip_offset, SettingsChange::NewOptions),
            // The rank is recounted from the singular values on the page.
            (
                threshold_rel.to_bits() != old.threshold_rel.to_bits(),
                SettingsChange::ViewOnly,
            ),
            (*color_clip != old.color_clip, SettingsChange::ViewOnly),
            (*compare != old.compare, SettingsChange::ViewOnly),
        ];
        fields
            .into_iter()
            .filter(|(changed, _)| *changed)
            .map(|(_, change)| change)
            .max()
            .unwrap_or(SettingsChange::ViewOnly)
    }
}
