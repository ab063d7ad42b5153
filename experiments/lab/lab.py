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
# * **Part B**: behavioural monitoring feeding an analyst team: where the sensor sits, the
#   alert threshold and the number of analysts.
# * **Part C**: an insider who adapts to the controls, and its decisions in the event log.
# * **Part D**: more than one insider: a crew of accomplices, and whose keys a leavers'
#   review revokes.
#
# Answer the questions marked **Q1** to **Q19** in your own words, with numbers from your
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
# first evening and the months after it fit on one page (read the ticks: the right half of the
# plot is months long). Top: records taken so far, with a tick per session. Then each monthly
# audit: the bar is the month of logs it reviewed, the dot is orange if the insider's lines
# were in that month's log and the audit missed them, grey if there was nothing to find. Then the
# benign alerts of the volume rules, and the analysts' queue.

# %%
lab.show(baseline_trace.files["timeline"])

# %% [markdown]
# **Q1.** In this replication, how long did the insider go undetected, how many records did
# they take, and what ended the breach?
#
# **Q2.** How many audits had the insider's activity in the month they reviewed, and how many
# found it? The audit reads the customer database's access log, where each session of the
# insider leaves one line among the API's own lines (the printout gives the insider's lines in
# each audit's month). An audit samples 1% of the lines (`coverage`), and an auditor recognises
# a sampled insider line as suspicious 1.7% of the time (`recognition`). What is the chance
# that one given insider line is caught? With about 80 insider lines in a month, what is the
# chance that one monthly audit catches the insider? That five audits in a row all miss?
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
lab.show(lab.table(cadence, ["audit_lines", "dwell", "within_30d", "caught_by", "records"]))

# %% [markdown]
# **Q5.** Daily audits run about thirty times as often as monthly ones, and each samples the
# same 1% of the lines in its own day. Why does auditing daily barely change the median time
# to detection or the records taken? What does a more frequent audit buy, and what would it
# take to catch the insider sooner?
#
# **Q6.** Instead of auditing more often, the auditor can sample more of the lines. Keep the
# monthly cadence and raise the coverage: 10%, 30.4%, all of them. The next row audits
# *daily* with coverage 30.4%: a day holds 1/30.4 of a month's lines, so each daily audit
# samples as many lines as the monthly 1% audit did, and a month of them as many as one
# monthly audit at 30.4%. The last row reads all the lines every day. (a) How does the median
# time to detection follow the lines sampled a month? (b) At the same lines a month (30.4%
# monthly against 30.4% daily; all monthly against all daily), what should the daily cadence
# buy in theory (how long, on average, is the lag from a line the auditor would recognise to
# the audit that reads it?), what does it buy in your table, and is the difference larger
# than sampling noise? (c) Which is better value: all the lines once a month, or 30.4% daily?

# %%
coverage = [
    *lab.sweep(BASELINE, "detectors.audit.coverage", [0.01, 0.1, 0.304, 1.0], N, SEED),
    lab.run([*BASELINE, "detectors.audit.interval=1d", "detectors.audit.coverage=0.304"], N,
            SEED, label="interval=1d, coverage=0.304"),
    lab.run([*BASELINE, "detectors.audit.interval=1d", "detectors.audit.coverage=1.0"], N,
            SEED, label="interval=1d, coverage=1.0"),
]
lab.show(lab.table(coverage, ["audit_lines", "dwell", "within_30d", "caught_by", "records"]))

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
# `coupang_2025_monitored` adds behavioural monitoring at the API gateway, where about ten
# million customer sessions a day come in: it scores each client's session on three features
# (records, request rate and number of addresses, against the customers' own) and alerts above
# a threshold (5.0: about 3 benign alerts a day). A 24/7 team of five analysts reviews the
# alerts. The third row below moves the same monitor to the customer database's logs
# (`detectors.monitoring.watch=kind:datastore`).

# %%
MONITORED = ["scenario=coupang_2025_monitored"]
monitored_trace = lab.trace(MONITORED, OUT, "coupang_2025_monitored", seed=SEED)
print(monitored_trace.describe())
lab.show(monitored_trace.files["timeline"])

# %%
monitored = lab.run(MONITORED, N, SEED, label="+ monitoring, 5 analysts 24/7")
at_datastore = lab.run([*MONITORED, "detectors.monitoring.watch=kind:datastore"], N, SEED,
                       label="+ the same monitoring at the database")
lab.show(lab.table([baseline, monitored, at_datastore],
                   ["dwell", "within_24h", "caught_by", "records"]))

# %% [markdown]
# **Q9.** In the traced replication, when was the first true alert raised, when was the
# insider confirmed and when contained? How many records were taken between detection and
# containment, and which setting of the model governs that?
#
# **Q10.** At the database, the same monitor with the same threshold catches nothing. Why?
# (Think of who calls the database, and from how many addresses.) What does that say about
# where a sensor should sit?
#
# ### B2. A busy Monday, a small team: the alert threshold
#
# The scenario above starts at midnight, when customers sleep and the queue is short. From
# here on, time 0 is **Monday 09:00 in Seoul**, when the insider's access becomes possible;
# they log on in their own evening, which is also when customers shop most, after the
# analysts have had a day of benign alerts (so every time below includes those ~10 hours
# before the first session). And the team is smaller: **two analysts** on shift. Now change
# the alert threshold: a lower threshold flags more of the insider's sessions *and* more of
# the customers' (each step of 0.5 down multiplies the benign alerts by about ten).

# %%
BUSY = [*MONITORED, "start=2025-06-23T09:00:00+09:00", "++insider.first_session_at_start=false"]
thresholds = lab.sweep([*BUSY, "triage.analysts=2"], "detectors.monitoring.threshold",
                       [4.0, 4.5, 5.0, 5.5, 6.0, 7.0], N, SEED)
lab.show(lab.table(thresholds, ["tpr_fpr", "benign_per_day", "dwell", "within_24h",
                                "false_alerts", "dropped", "wait"]))

# %% [markdown]
# **Q11.** Which thresholds give the shortest median time to detection with two analysts? At
# the lowest threshold, how many benign alerts does a replication bring and how many age out
# unreviewed (alerts older than a day are dropped)? Explain why a detector that flags *more*
# of the insider's sessions can catch them *later*.
#
# **Q12.** At the highest thresholds the queue is quiet. What limits detection there?
#
# ### B3. The analysts
#
# Keep the sensitive threshold 4.0 (about 300 benign alerts a day) and change the number of
# analysts on shift.

# %%
SENSITIVE = [*BUSY, "detectors.monitoring.threshold=4.0"]
analysts = lab.sweep(SENSITIVE, "triage.analysts", [1, 2, 3, 4, 5, 10], N, SEED)
lab.show(lab.table(analysts, ["dwell", "within_24h", "false_alerts", "dropped", "wait"]))

# %%
one_analyst_trace = lab.trace([*SENSITIVE, "triage.analysts=1"], OUT, "busy_monday_1_analyst",
                              seed=SEED)
print(one_analyst_trace.describe())
lab.show(one_analyst_trace.files["timeline"])

# %% [markdown]
# **Q13.** At threshold 4.0, how many analysts does the team need before one more stops
# helping? Estimate the load: take the benign alerts a day (the column in the B2 table, or the
# benign-alert panel of the one-analyst timeline), turn them into alerts per hour, and
# multiply by the time one alert takes (`triage.triage_time`: 15 minutes in this scenario).
# How many analysts does that keep busy on average? Customers shop most in the evening: why
# does a team that just covers the average still fall behind? And how many analysts would the
# preset threshold 5.0 need?
#
# **Q14.** In the one-analyst timeline, how long did the insider's first true alert wait for
# an analyst? What happened to the queue overnight, and why does the insider's evening timing
# matter?
#
# **Q15.** You can make one change to Coupang's controls. Which would you choose, and why?
# Use numbers from your tables, and say what your choice does *not* fix.

# %% [markdown]
# ## Part C: an insider who adapts
#
# The insider so far is naive: it keeps its rhythm whatever the controls do. Real insiders
# react to what they can see. The simulator lets you pick the insider's *strategy*
# (`insider/strategy=...`, see the README section "The insider's strategy"). Here the monthly
# audit is made visible to staff (`detectors.audit.visible=true`: auditors ask questions, a
# former colleague mentions it), and three insiders meet the controls Coupang had: the naive
# one, a *cautious* one that starts no session for 30 days after each audit it sees, and a
# *threshold prober* that raises its request rate until the volume rule refuses it, then
# stays just under the limit.
#
# ### C1. Three insiders against the same controls

# %%
VISIBLE = [*BASELINE, "detectors.audit.visible=true"]
adaptive = [lab.run(VISIBLE, N, SEED, label="naive (renewal)"),
            lab.run([*VISIBLE, "insider/strategy=cautious"], N, SEED, label="cautious"),
            lab.run([*VISIBLE, "insider/strategy=threshold_prober"], N, SEED,
                    label="threshold prober")]
lab.show(lab.table(adaptive, ["dwell", "caught_by", "records", "ended"]))

# %% [markdown]
# **Q16.** Against which insider does the monthly audit do best, and how often does it catch
# the other two? The cautious insider takes less than the naive one: is the visible audit
# then a good control? Why is the prober, the "smarter" insider, caught fastest, and by which
# control? What would have to be true of the volume rule for probing to be safe?
#
# ### C2. Reading the insider's decisions in the trace
#
# Every decision a strategy makes is an event of its own in `events.jsonl` (`event.action:
# decision`), tagged with its ATT&CK technique (T1029 Scheduled Transfer: the insider chooses
# *when* to act) and the signal it reacted to.

# %%
cautious_trace = lab.trace([*VISIBLE, "insider/strategy=cautious"], OUT, "cautious_insider",
                           seed=SEED)
print(cautious_trace.describe())
print(cautious_trace.describe_decisions())
lab.show(cautious_trace.files["timeline"])

# %% [markdown]
# **Q17.** When did the cautious insider first react, to what, and how long was it quiet?
# Compare the insider lines in each audit's window (printed above) before and after its first
# decision: what did lying low do to what the audits could find? In `events.jsonl`, find the
# first `decision` line and name its `threat.technique.id` and `sim.signal`.

# %% [markdown]
# ## Part D: more than one insider
#
# A breach is not always one person's work. `insider/crew=...` puts a *crew* of accomplices in
# one replication (README, "Several insiders: a crew"): three insiders with the same habits,
# sharing the work (a record one has taken is not taken again). With `own_keys` each holds a
# key of its own with the same reach; with `shared_key` all forge tokens with the one retained
# key. A detection identifies the member whose session raised the alert, and that member is
# contained; investigating them exposes each accomplice with probability `reveal` (0.5 in the
# presets: shared devices, messages, payment trails), who is then cut at the same moment.
#
# ### D1. A crew against monitoring at the gateway

# %%
crews = [lab.run(MONITORED, N, SEED, label="one insider"),
         lab.run([*MONITORED, "insider/crew=own_keys"], N, SEED,
                 label="crew of 3, own keys"),
         lab.run([*MONITORED, "insider/crew=own_keys", "insider.crew.reveal=0"], N, SEED,
                 label="crew of 3, own keys, reveal 0"),
         lab.run([*MONITORED, "insider/crew=shared_key"], N, SEED,
                 label="crew of 3, one shared key")]
lab.show(lab.table(crews, ["dwell", "records", "identified", "last_access"]))

# %% [markdown]
# **Q18.** The first member of a crew is confirmed as fast as a lone insider. Why does the crew
# still take more than twice the records? What does `reveal` buy the defender (compare the
# rows with reveal 0.5 and 0)? With one shared key fewer members are *identified*, yet the
# crew takes less: why?
#
# ### D2. A review that revokes leavers' credentials
#
# Coupang's insider used a key they kept after leaving. A credential review that revokes the
# credentials of former employees (`credential_hygiene` with `revoke_former_employees: true`,
# here monthly, rotating nothing for age) would have cut that key at its first review. A crew
# of leavers each with a retained key is cut the same way; accomplices who are *current*
# employees on their own valid credentials (`insider/crew=staff_accomplices`) are not leavers.

# %%
LEAVERS = [*BASELINE, "+detector@detectors.leavers=credential_hygiene",
           "detectors.leavers.revoke_former_employees=true",
           "detectors.leavers.max_credential_age=inf", "detectors.leavers.interval=1mo"]
leavers = [lab.run(BASELINE, N, SEED, label="Coupang's controls, one insider"),
           lab.run(LEAVERS, N, SEED, label="+ leavers' review, one insider"),
           lab.run([*LEAVERS, "insider/crew=own_keys"], N, SEED,
                   label="+ leavers' review, crew of 3 leavers"),
           lab.run([*LEAVERS, "insider/crew=staff_accomplices"], N, SEED,
                   label="+ leavers' review, a leaver and 2 staff")]
lab.show(lab.table(leavers, ["dwell", "records", "all_stopped", "ended"]))

# %% [markdown]
# **Q19.** What does the monthly leavers' review do to the records the lone insider takes, and
# to how often the breach is ever *detected*? Why does it stop a crew of leavers but not a
# leaver with two accomplices on staff? Which control from Parts A-B would you add against the
# staff accomplices, and what does the leavers' review still do for the defender in that row?
