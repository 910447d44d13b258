"""Judging explanations over a corpus: faithfulness, agreement, sanity checks and cost.

    from course_utils import evaluation as ev
    tables = attribution.concat([ig, loo, atman])               # tidy tables of explain()
    deletion = ev.deletion_curve(model, tokenizer, tables)      # + a random-order baseline
    ev.curves_figure(deletion, ev.insertion_curve(model, tokenizer, tables))
    deletion.select(doc_ids)                                    # the same curves on fewer documents/methods
    comp = ev.aopc_comprehensiveness(model, tokenizer, tables)  # ERASER, per document
    ev.aopc_table(comp, ev.aopc_sufficiency(model, tokenizer, tables))   # per method, bootstrap intervals
    ev.agreement(tables)                                        # Spearman / Kendall / top-k per document
    ev.sanity_check_randomisation(model, tokenizer, texts)      # Adebayo et al. 2018
    ev.cost_table(model, tokenizer, texts)                      # seconds, passes, peak memory

Every metric reads the tidy table of :func:`course_utils.attribution.explain` (one row per token) and
removes tokens with the same masking code as leave-one-out (``attribution._masking``). [CLS] and [SEP] are
never removed. Faithfulness asks "does the explanation describe what the *model* does?" — it says nothing
about plausibility ("would a person give this reason?").

Modules: ``_tables`` (tables → ranked units, random baseline), ``_removal`` (batched forward passes over
perturbed copies), ``_curves`` (deletion/insertion), ``_aopc`` (ERASER), ``_agreement``, ``_sanity``
(randomisation test), ``_stats`` (bootstrap), ``_cost``, ``_figures``.

Taught in notebook 05 (evaluating explanations).
"""

from ._agreement import agreement, agreement_matrix, disagreements, rank_agreement
from ._aopc import ERASER_BINS, aopc_comprehensiveness, aopc_sufficiency, aopc_table
from ._cost import cost_table, measure_peak_memory
from ._curves import FRACTIONS, Curves, deletion_curve, insertion_curve
from ._figures import agreement_figure, aopc_figure, curves_figure, sanity_figure
from ._sanity import randomisation_steps, reinitialise, sanity_check_randomisation, sanity_summary
from ._stats import Interval, bootstrap_ci, compare_to_baseline, summarise
from ._tables import RANDOM, random_explanation

__all__ = [
    "deletion_curve",
    "insertion_curve",
    "Curves",
    "FRACTIONS",
    "aopc_comprehensiveness",
    "aopc_sufficiency",
    "aopc_table",
    "ERASER_BINS",
    "rank_agreement",
    "agreement",
    "agreement_matrix",
    "disagreements",
    "sanity_check_randomisation",
    "sanity_summary",
    "randomisation_steps",
    "reinitialise",
    "bootstrap_ci",
    "summarise",
    "compare_to_baseline",
    "Interval",
    "random_explanation",
    "RANDOM",
    "cost_table",
    "measure_peak_memory",
    "curves_figure",
    "aopc_figure",
    "agreement_figure",
    "sanity_figure",
]
