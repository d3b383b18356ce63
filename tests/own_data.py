"""A churn table of another layout than the sample, with a learnable signal: an ID column,
``Yes``/``No`` labels, 0/1 codes, ``NA`` and blank cells, multi-word categories."""

from __future__ import annotations

import math
import random


def customers_csv(rows: int = 1500, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = ["customerID,gender,SeniorCitizen,Partner,tenure,Contract,Payment Method,MonthlyCharges,TotalCharges,Churn"]
    for i in range(rows):
        tenure = rng.randint(0, 72)
        contract = rng.choices(["Month-to-month", "One year", "Two year"], [0.55, 0.25, 0.2])[0]
        monthly = round(rng.uniform(18, 118), 2)
        total = "" if tenure == 0 or rng.random() < 0.03 else f"{monthly * tenure * rng.uniform(0.95, 1.05):.2f}"
        senior = rng.choice(["0", "0", "0", "1"])
        pay = rng.choice(["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"])
        margin = (
            -1.2 - 0.045 * tenure + {"Month-to-month": 1.6, "One year": 0.2, "Two year": -1.2}[contract]
            + 0.015 * (monthly - 65) + (0.5 if pay == "Electronic check" else 0) + (0.4 if senior == "1" else 0)
        )
        churn = "Yes" if rng.random() < 1 / (1 + math.exp(-margin)) else "No"
        partner = rng.choice(["Yes", "No", "NA"])
        lines.append(
            f"{7000 + i:04d}-{rng.choice('ABCDEFG')}{rng.choice('HIJKLMN')},{rng.choice(['Female', 'Male'])},{senior},{partner},"
            f"{tenure},{contract},{pay},{monthly},{total},{churn}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m tests.own_data customers.csv [ROWS]
    import sys

    from pathlib import Path

    Path(sys.argv[1]).write_text(customers_csv(int(sys.argv[2]) if len(sys.argv) > 2 else 1500))
