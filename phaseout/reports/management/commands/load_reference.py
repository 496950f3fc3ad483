from typing import Any

from django.core.management.base import BaseCommand

from phaseout.reference import load_reference


class Command(BaseCommand):
    help = "Load territories (GB/T 2260), industries and member departments; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = load_reference()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
