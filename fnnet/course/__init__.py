"""The course's own algorithms: the perceptron learning rule, plain gradient descent, the model zoo."""

from fnnet.course import zoo
from fnnet.course.gradient_descent import GradientDescentResult, gradient_descent
from fnnet.course.perceptron_rule import PerceptronFit, perceptron_rule

__all__ = ["GradientDescentResult", "PerceptronFit", "gradient_descent", "perceptron_rule", "zoo"]
