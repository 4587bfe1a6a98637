"""The latent utility model makes the observable signals of month m predict churn in m+1."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

FEATURES_SQL = """
WITH ev AS (
    SELECT subscriber_id, strftime(event_time, '%Y-%m') AS month,
           count(*) FILTER (WHERE event_type = 'complaint') AS complaints,
           count(*) FILTER (WHERE event_type = 'portability_inquiry') AS inquiries,
           count(*) FILTER (WHERE event_type = 'service_cancellation') AS cancellations,
           count(*) FILTER (WHERE event_type = 'top_up') AS top_ups,
           count(*) FILTER (WHERE event_type = 'churn') AS churns
    FROM events GROUP BY ALL),
monthly AS (
    SELECT b.subscriber_id, b.bill_month, b.total_fee, b.voice_minutes, NOT b.paid AS unpaid,
           lag(b.total_fee) OVER w AS prev_fee, lag(b.voice_minutes) OVER w AS prev_minutes,
           c.competitor_call_share AS share, lag(c.competitor_call_share) OVER w AS prev_share,
           c.core_contacts_churned
    FROM bills b JOIN call_circle c ON c.subscriber_id = b.subscriber_id AND c.month = b.bill_month
    WINDOW w AS (PARTITION BY b.subscriber_id ORDER BY b.bill_month))
SELECT ln((m.total_fee + 1) / (m.prev_fee + 1)) AS bill_change,
       ln((m.voice_minutes + 1) / (m.prev_minutes + 1)) AS minutes_change,
       m.share, m.share - m.prev_share AS share_change, m.core_contacts_churned,
       m.unpaid::int AS unpaid, (m.voice_minutes < 1)::int AS silent,
       coalesce(e.complaints, 0) AS complaints, coalesce(e.inquiries, 0) AS inquiries,
       coalesce(e.cancellations, 0) AS cancellations, coalesce(e.top_ups, 0) AS top_ups,
       (s.payment_type = 'prepaid')::int AS prepaid,
       coalesce(nx.churns, 0) > 0 AS churn_next
FROM monthly m JOIN subscribers s USING (subscriber_id)
LEFT JOIN ev e ON e.subscriber_id = m.subscriber_id AND e.month = m.bill_month
LEFT JOIN ev nx ON nx.subscriber_id = m.subscriber_id
    AND nx.month = strftime(strptime(m.bill_month, '%Y-%m') + INTERVAL 1 MONTH, '%Y-%m')
WHERE m.prev_fee IS NOT NULL AND coalesce(e.churns, 0) = 0
"""


def test_month_m_signals_predict_month_m_plus_1_churn(duck):
    frame = duck.execute(FEATURES_SQL).df()
    y = frame.pop("churn_next").to_numpy()
    X = frame.to_numpy(dtype=float)
    assert y.sum() >= 200
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    model = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    assert auc >= 0.70, auc


def test_each_signal_is_more_frequent_before_churn(duck):
    frame = duck.execute(FEATURES_SQL).df()
    before, other = frame[frame.churn_next], frame[~frame.churn_next]
    for signal in ["complaints", "inquiries", "unpaid", "silent", "core_contacts_churned"]:
        assert before[signal].mean() > other[signal].mean(), signal
    assert before["share_change"].mean() > other["share_change"].mean()
    assert before["minutes_change"].mean() < other["minutes_change"].mean()
    assert np.isfinite(frame.to_numpy(dtype=float)).all()
