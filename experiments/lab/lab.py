# %% [markdown]
# # Lab: watch one breach unfold, then change one control at a time
#
# In 2025 a former developer of Coupang kept a token-signing key that was never revoked. From
# abroad, they forged tokens and paged through customer address pages in small batches from
# many IP addresses, below every volume rule, and took the data of 33.7 million customers over
# about five months. Customers' complaints and an extortion email gave it away, not the
# company's controls.
#
# You will run this breach in a simulator (`insider-sim`), look at one replication event by
# event, and then change **one control at a time** to see what each buys:
#
# * **Part A**: the controls Coupang had: a monthly access-log audit, per-IP volume rules and
#   outside discovery. Then audit cadence, and key rotation.
# * **Part B**: behavioural monitoring feeding an analyst team: the alert threshold and the
#   number of analysts.
#
# Answer the questions marked **Q1** to **Q14** in your own words, with numbers from your
# tables and figures. Every setting is a list of command-line overrides: anything you see here
# can be run as `python -m sim OVERRIDES...` from the repository root.
#
# Times are hours since the insider's first access (`h`, `d` = day, `w` = week,
# `mo` = month = 30.4 days, `y` = year).

# %%
import os
from pathlib import Path

import labkit as lab

QUICK = os.environ.get("LAB_QUICK") == "1"  # the test suite runs the lab at smoke size
SEED = int(os.environ.get("LAB_SEED", 0))   # change it to see other random replications
N = 8 if QUICK else 200                     # replications per setting (~1 min in total)
OUT = Path(os.environ.get("LAB_OUT", "my_results"))  # figures and event logs go here
print(f"{N} replications per setting, seed {SEED}; figures in {OUT.resolve()}")

# %% [markdown]
# ## Part A: a monthly audit against a patient insider
#
# ### A1. One replication, event by event
#
# `coupang_2025` is the breach with the controls the company had. We run replication 0 with
# tracing on. This writes `events.jsonl` (every event, with Elastic Common Schema field names:
# load it into Kibana, Splunk or pandas), a timeline and a picture of the network.

# %%
BASELINE = ["scenario=coupang_2025"]
baseline_trace = lab.trace(BASELINE, OUT, "coupang_2025", seed=SEED)
print(baseline_trace.describe())

# %% [markdown]
# The network, aggregated by zone: one box per service and datastore, one per group of
# hosts. The red arrows are the path the insider's forged tokens opened; the dashed boxes are
# everything the key could open.

# %%
lab.show(baseline_trace.files["network"])

# %% [markdown]
# The timeline. The time axis is linear over the first day and logarithmic after it, so the
# first evening and the fifth month fit on one page (read the ticks: the right half of the
# plot is months long). Top: records taken so far, with a tick per session. Then each monthly
# audit: the bar is the month of logs it reviewed, the dot is orange if the insider was active
# in that month and the audit missed them, grey if there was nothing to find. Then the benign
# alerts of the volume rules, and the analysts' queue.

# %%
lab.show(baseline_trace.files["timeline"])

# %% [markdown]
# **Q1.** In this replication, how long did the insider go undetected, how many records did
# they take, and what ended the breach?
#
# **Q2.** How many audits had the insider's activity in the month they reviewed, and how many
# found it? One audit reviews 10% of the logs (`coverage`) and an auditor recognises what is in
# front of them half the time (`recognition`). What is the chance that one audit catches an
# insider active in its window? That five such audits in a row all miss?
#
# **Q3.** The per-IP volume rule fires above 1,000 requests per address and hour. The insider
# spreads 630 requests per address-hour over 300 addresses. Why did the rule never fire? What
# would the per-address rate be if the insider used only 100 addresses for the same total?
#
# ### A2. Two hundred replications
#
# One replication is one story. To compare controls we need many: the same setting with
# different random draws.

# %%
baseline = lab.run(BASELINE, N, SEED, label="monthly audit (as Coupang)")
lab.show(lab.table([baseline], ["dwell", "caught_by", "records", "ended"]))

# %% [markdown]
# **Q4.** What is the median time to detection, and which control ends most breaches? Compare
# with the real case (about 147 days, 4.8 months). Why does outside discovery, and not the
# audit, end most of them?
#
# ### A3. Audit more often
#
# Change one number: the audit interval. (On the command line:
# `python -m sim scenario=coupang_2025 detectors.audit.interval=1w`.)

# %%
cadence = lab.sweep(BASELINE, "detectors.audit.interval", ["1mo", "2w", "1w", "1d"], N, SEED)
lab.show(lab.table(cadence, ["dwell", "within_30d", "caught_by", "records"]))

# %% [markdown]
# **Q5.** Daily audits run about thirty times as often as monthly ones. By what factor do they
# shorten the median time to detection, and how many fewer records are taken? Why does going
# from monthly to every two weeks change so little?
#
# **Q6.** Instead of auditing more often, an auditor can look at more of the logs. Keep the
# monthly cadence and raise the coverage. Which is better value: ten times the coverage, or
# four times the cadence (weekly)?

# %%
coverage = lab.sweep(BASELINE, "detectors.audit.coverage", [0.1, 0.5, 1.0], N, SEED)
lab.show(lab.table(coverage, ["dwell", "within_30d", "caught_by", "records"]))

# %% [markdown]
# ### A4. Rotate the keys
#
# Add a credential review that rotates every key older than a year: quarterly (the default),
# then monthly. It is *prevention*: it ends the insider's access but confirms nothing.

# %%
ROTATION = [*BASELINE, "+detector@detectors.rotation=credential_hygiene"]
rotation = [
    baseline,
    lab.run(ROTATION, N, SEED, label="+ quarterly key rotation"),
    lab.run([*ROTATION, "detectors.rotation.interval=1mo"], N, SEED,
            label="+ monthly key rotation"),
]
lab.show(lab.table(rotation, ["dwell", "records", "caught_by", "ended"]))

# %% [markdown]
# **Q7.** With quarterly rotation, how many records does the insider take (median), compared
# with no rotation? What happens to the median time to detection, and why?
#
# **Q8.** Monthly rotation takes even fewer records. Yet in most replications nobody ever
# learns there was an insider. Why is that a problem (think of notification duties and of
# what else the insider might have taken)?
#
# ## Part B: monitoring and the analyst queue
#
# ### B1. What monitoring did to the same breach
#
# `coupang_2025_monitored` adds behavioural monitoring of API use (it scores each session and
# alerts above a threshold) and a 24/7 team of five analysts.

# %%
MONITORED = ["scenario=coupang_2025_monitored"]
monitored_trace = lab.trace(MONITORED, OUT, "coupang_2025_monitored", seed=SEED)
print(monitored_trace.describe())
lab.show(monitored_trace.files["timeline"])

# %%
monitored = lab.run(MONITORED, N, SEED, label="+ monitoring, 5 analysts 24/7")
lab.show(lab.table([baseline, monitored], ["dwell", "within_24h", "caught_by", "records"]))

# %% [markdown]
# **Q9.** In the traced replication, when was the first true alert raised, when was the
# insider confirmed and when contained? How many records were taken between detection and
# containment, and which setting of the model governs that?
#
# ### B2. A busy Monday: the alert threshold
#
# The scenario above starts at midnight, when the night shift has little to do. Real teams are
# busiest in office hours. From here on, time 0 is **Monday 09:00 in Seoul**, when the insider's
# access becomes possible; they log on in their own evening, after the analysts have had a day
# of benign alerts (so every time below includes those ~11 hours before the first session).
# Now change the alert threshold: a lower threshold flags more of the insider's sessions *and*
# more benign behaviour.

# %%
BUSY = [*MONITORED, "start=2025-06-23T09:00:00+09:00", "++insider.first_session_at_start=false"]
thresholds = lab.sweep(BUSY, "detectors.monitoring.threshold", [2.0, 2.5, 3.0, 3.5, 4.0, 5.0],
                       N, SEED)
lab.show(lab.table(thresholds, ["tpr_fpr", "dwell", "within_24h", "false_alerts", "dropped",
                                "wait"]))

# %% [markdown]
# **Q10.** Which threshold gives the shortest median time to detection? Below it, how many
# benign alerts does a replication bring and how many age out unreviewed (alerts older than a
# day are dropped)? Explain why a detector that flags *more* of the insider's sessions can
# catch them *later*.
#
# **Q11.** Above the best threshold the queue is quiet. What limits detection there?
#
# ### B3. The analysts
#
# Back to the default threshold (3.0); change the number of analysts on shift.

# %%
analysts = lab.sweep(BUSY, "triage.analysts", [1, 2, 3, 5, 10], N, SEED)
lab.show(lab.table(analysts, ["dwell", "within_24h", "false_alerts", "dropped", "wait"]))

# %%
one_analyst_trace = lab.trace([*BUSY, "triage.analysts=1"], OUT, "busy_monday_1_analyst",
                              seed=SEED)
print(one_analyst_trace.describe())
lab.show(one_analyst_trace.files["timeline"])

# %% [markdown]
# **Q12.** How many analysts does the team need before one more stops helping? Estimate the
# load from the one-analyst timeline: read off how many benign alerts a day the monitor
# raises in office hours (the benign-alert panel), turn it into alerts per hour, and multiply
# by the time one alert takes (`triage.triage_time`: 15 minutes in this scenario). How many
# analysts does that keep busy?
#
# **Q13.** In the one-analyst timeline, how long did the insider's first true alert wait for
# an analyst? What happened to the queue overnight, and why does the insider's evening timing
# matter?
#
# **Q14.** You can make one change to Coupang's controls. Which would you choose, and why?
# Use numbers from your tables, and say what your choice does *not* fix.
